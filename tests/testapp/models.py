"""A custom user model and a host catalogue model, as a host site would have them."""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models


class MemberManager(BaseUserManager):
    def create_user(self, email, password=None, **extra):
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        return self.create_user(email, password, is_staff=True, is_superuser=True, **extra)


class Member(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    USERNAME_FIELD = "email"
    objects = MemberManager()

    def __str__(self):
        return self.email


class Product(models.Model):
    name = models.CharField(max_length=200)
    blurb = models.TextField(blank=True)
    tags = models.CharField(max_length=200, blank=True)
    on_sale = models.BooleanField(default=True)

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return f"/products/{self.pk}/"

    def category_names(self):
        return [t.strip() for t in self.tags.split(",") if t.strip()]
