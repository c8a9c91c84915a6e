"""Reads of Play 6's packages and deployments: fetch-and-authorize (a project the user may not see is
reported like one that does not exist) and the package archive for download."""
from apps.core import storage
from apps.core.errors import NotFound
from apps.monitoring.models import Alert, Deployment, Package
from apps.playbook import policy


def package_for_user(user, package_id) -> Package:
    try:
        package = Package.objects.select_related("project").get(pk=int(package_id))
    except (Package.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such package.") from None
    if not policy.can_view(user, package.project):
        raise NotFound("No such package.")
    return package


def deployment_for_user(user, deployment_id) -> Deployment:
    try:
        deployment = Deployment.objects.select_related("project", "package").get(pk=int(deployment_id))
    except (Deployment.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such deployment.") from None
    if not policy.can_view(user, deployment.project):
        raise NotFound("No such deployment.")
    return deployment


def package_download(package: Package):
    """The package archive as a download, named and labelled with its hash."""
    from django.http import FileResponse

    response = FileResponse(open(package_archive(package), "rb"), content_type="application/gzip", as_attachment=True,
                            filename=f"package-{package.pk}-{package.sha256[:12]}.tar.gz")
    response["X-Package-SHA256"] = package.sha256
    return response


def package_archive(package: Package):
    """The package as one deterministic .tar.gz, written once next to it (named by the package's hash)."""
    from workers.engine.packaging import package_archive as build_archive

    target = storage.absolute(storage.PACKAGES) / f"{package.sha256}.tar.gz"
    if not target.exists():
        build_archive(storage.absolute(package.path), target, expected_sha256=package.sha256)
    return target


def alerts_for_user(user):
    """Alerts of the projects the user may see, newest first."""
    from apps.playbook.selectors import projects_for_user

    return (Alert.objects.filter(deployment__project__in=projects_for_user(user))
            .select_related("deployment", "window", "cycle").order_by("-created_at"))
