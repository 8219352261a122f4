import functools

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from offices.models import Membership, Office, Role
from outsmart.accounts.models import User

PASSWORD = "correct horse battery staple"


@functools.cache
def password_hash() -> str:
    # Argon2 is slow on purpose; hash the shared test password once, not once per user.
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.LazyFunction(password_hash)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create:
            from allauth.account.models import EmailAddress

            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)
            self.save()


class OfficeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Office

    name = factory.Sequence(lambda n: f"Clinic {n}")
    address = "1 Main Street"
    phone = "+1 416 555 0100"
    time_zone = "America/Toronto"
    require_two_factor = True
    setup_completed_at = factory.LazyFunction(timezone.now)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    office = factory.SubFactory(OfficeFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.PRACTITIONER
    is_admin = False
