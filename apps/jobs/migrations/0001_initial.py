"""The job tables move from the training app to this one: the tables stay as they are (state only)."""
import django.core.serializers.json
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('playbook', '0001_initial'),
        ('training', '0002_candidates_artifacts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Job',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('baseline', 'Baseline'), ('bakeoff', 'Base-model bake-off'), ('frozen_head', 'Frozen-base head'), ('unfreeze', 'Progressive unfreeze'), ('evaluate', 'Evaluation'), ('drift_check', 'Drift check'), ('retrain', 'Retrain')], max_length=16)),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=16)),
                        ('params', models.JSONField(default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder)),
                        ('progress', models.FloatField(default=0.0)),
                        ('message', models.CharField(blank=True, max_length=300)),
                        ('result', models.JSONField(blank=True, encoder=django.core.serializers.json.DjangoJSONEncoder, null=True)),
                        ('error', models.TextField(blank=True)),
                        ('cancel_requested', models.BooleanField(default=False)),
                        ('worker_host', models.CharField(blank=True, max_length=200)),
                        ('device', models.CharField(blank=True, max_length=200)),
                        ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('play', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='playbook.play')),
                        ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='playbook.project')),
                    ],
                    options={
                        'ordering': ['-created_at'],
                        'db_table': 'training_job',
                    },
                ),
                migrations.CreateModel(
                    name='MetricPoint',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('step', models.IntegerField()),
                        ('split', models.CharField(default='train', max_length=16)),
                        ('name', models.CharField(max_length=64)),
                        ('value', models.FloatField()),
                        ('recorded_at', models.DateTimeField(auto_now=True)),
                        ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='metrics', to='jobs.job')),
                    ],
                    options={
                        'ordering': ['job_id', 'step', 'name'],
                        'db_table': 'training_metricpoint',
                    },
                ),
                migrations.AddIndex(
                    model_name='job',
                    index=models.Index(condition=models.Q(('status__in', ['queued', 'running'])), fields=['status', 'heartbeat_at'], name='training_job_active'),
                ),
                migrations.AddConstraint(
                    model_name='job',
                    constraint=models.CheckConstraint(condition=models.Q(('progress__gte', 0), ('progress__lte', 1)), name='training_job_progress_0_1'),
                ),
                migrations.AddConstraint(
                    model_name='metricpoint',
                    constraint=models.UniqueConstraint(fields=('job', 'step', 'split', 'name'), name='training_metric_unique_point'),
                ),
                migrations.CreateModel(
                    name='Artifact',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('feature_cache', 'Feature cache'), ('checkpoint', 'Checkpoint'), ('report', 'Report')], max_length=16)),
                        ('path', models.CharField(max_length=500)),
                        ('sha256', models.CharField(db_index=True, max_length=64)),
                        ('size_bytes', models.BigIntegerField(default=0)),
                        ('label', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='artifacts', to='jobs.job')),
                    ],
                    options={
                        'ordering': ['job_id', 'kind', 'id'],
                        'db_table': 'training_artifact',
                        'constraints': [models.UniqueConstraint(fields=('job', 'kind', 'sha256'), name='training_artifact_unique_per_job')],
                    },
                ),
            ],
        ),
    ]
