"""The S3 API server of the cluster profile: s3proxy on a filesystem backend, with signature checks; the
warehouse bucket is a directory of its base."""

from __future__ import annotations

import secrets
import tomllib
from pathlib import Path

from roadwatch.stack import versions
from roadwatch.stack.broker import write_private
from roadwatch.stack.cluster.settings import ClusterSettings
from roadwatch.stack.daemon import Daemon, java, logback_config
from roadwatch.stack.jars import artifact

COORDINATE = f"org.gaul:s3proxy:{versions.S3PROXY}:jar:jar-with-dependencies"


def daemon(s: ClusterSettings) -> Daemon:
    return Daemon("s3proxy", s.home)


def base_dir(s: ClusterSettings) -> Path:
    return s.home / "s3"


def secret(s: ClusterSettings) -> str:
    """The S3 secret of `s3_access_key_id`: drawn once and kept in the credentials file (mode 0600), which
    the cluster profile's client settings read."""
    if s.credentials_file.exists():
        return str(tomllib.loads(s.credentials_file.read_text())["catalog"]["s3_secret_access_key"])
    value = secrets.token_urlsafe(24)
    s.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(
        s.credentials_file,
        "# written by `roadwatch --profile cluster stack up`: the cluster's S3 credentials\n"
        f'[catalog]\ns3_access_key_id = "{s.s3_access_key_id}"\ns3_secret_access_key = "{value}"\n',
    )
    return value


def properties(s: ClusterSettings, credential: str) -> str:
    return "\n".join(
        [
            f"s3proxy.endpoint=http://{s.host}:{s.s3_port}",
            "s3proxy.authorization=aws-v2-or-v4",
            f"s3proxy.identity={s.s3_access_key_id}",
            f"s3proxy.credential={credential}",
            "jclouds.provider=filesystem-nio2",
            f"jclouds.filesystem.basedir={base_dir(s)}",
            f"jclouds.identity={s.s3_access_key_id}",
            f"jclouds.credential={credential}",
            "",
        ]
    )


def start(s: ClusterSettings) -> int:
    """Start s3proxy unless running; the warehouse bucket exists before it serves."""
    jar = artifact(s.cache_dir, COORDINATE)
    (base_dir(s) / s.bucket).mkdir(parents=True, exist_ok=True)
    props = s.home / "s3proxy.properties"
    write_private(props, properties(s, secret(s)))
    d = daemon(s)
    logback = s.home / "s3proxy-logback.xml"
    logback.write_text(logback_config(d.log_file))
    return d.start(
        [
            java(),
            "-Xmx256m",
            f"-Dlogback.configurationFile={logback}",
            "-jar",
            str(jar),
            "--properties",
            str(props),
        ]
    )
