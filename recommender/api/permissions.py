"""Who may do what: staff manage the catalogue and models and read anyone's list."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

__all__ = ["IsStaff", "IsStaffOrReadOnly", "is_staff"]


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_staff)


class IsStaff(BasePermission):
    """Only signed-in staff members."""

    message = "Only staff members may do this."

    def has_permission(self, request, view) -> bool:
        return is_staff(request.user)


class IsStaffOrReadOnly(BasePermission):
    """Anyone may read; only staff may write."""

    message = "Only staff members may change the catalogue."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or is_staff(request.user)
