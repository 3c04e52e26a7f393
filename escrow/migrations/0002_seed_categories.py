from django.db import migrations

CATEGORIES = ["Grains", "Vegetables", "Fruit", "Livestock", "Dairy", "Services", "Other"]


def seed(apps, schema_editor):
    Category = apps.get_model("escrow", "Category")
    for position, name in enumerate(CATEGORIES):
        Category.objects.get_or_create(name=name, defaults={"position": position})


def unseed(apps, schema_editor):
    apps.get_model("escrow", "Category").objects.filter(
        name__in=CATEGORIES, products__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("escrow", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
