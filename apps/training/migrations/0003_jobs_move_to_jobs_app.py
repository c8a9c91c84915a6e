"""Job, MetricPoint and Artifact now belong to the jobs app (same tables): state only."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0002_candidates_artifacts'),
        ('jobs', '0001_initial'),
        ('datasets', '0007_splitread_job_in_jobs_app'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='Artifact'),
                migrations.DeleteModel(name='MetricPoint'),
                migrations.DeleteModel(name='Job'),
            ],
        ),
    ]
