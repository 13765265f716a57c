"""Fill the host's wheelhouse and jar cache, and stage one small build context per image, so that `docker
build` needs no network (`make images`; scripts/images.sh calls this with .venv's Python).

    images.py stage CONTEXTS_DIR   resolve wheels and jars once, stage each image's context below CONTEXTS_DIR
    images.py args IMAGE           print the image's `--build-arg` values, one `NAME=VALUE` a line

Jars come from the same resolvers the embedded and cluster stacks use (`roadwatch.stack.jars`,
`flink_jobs.connector`); versions from `roadwatch/stack/versions.py`, `flink_jobs/requirements.txt` and
pyproject.toml. Wheels are pinned to what `.venv` / `.venv-flink` run (their freeze is the constraint), and a
wheelhouse is reused offline (`--no-index`) when it already satisfies the request.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flink_jobs.connector import connector_jars  # noqa: E402
from flink_jobs.settings import CONNECTOR  # noqa: E402
from roadwatch.errors import RoadwatchError  # noqa: E402
from roadwatch.stack import versions  # noqa: E402
from roadwatch.stack.cluster import catalog, objectstore  # noqa: E402
from roadwatch.stack.jars import artifact, classpath, kafka_classpath  # noqa: E402

log = logging.getLogger("images")
CACHE = Path(os.environ.get("ROADWATCH_CACHE_DIR", Path.home() / ".cache" / "roadwatch"))
PIP = [str(ROOT / ".venv" / "bin" / "python"), "-m", "pip"]
UV = str(ROOT / ".venv" / "bin" / "uv")
IMAGES = ("roadwatch", "kafka", "iceberg-rest", "s3proxy", "flink")
# pins of the venvs that pip cannot honour: uv installed backports-strenum 1.3.1 (ai-edge-litert's) though it
# declares Python <3.11; left free, pip takes the newest one that allows the image's Python
NOT_PINNED = frozenset({"backports-strenum"})
# what the images' Python (Debian's 3.11.2) needs beyond what the host's resolves for itself: pip on the host
# drops requirements whose markers are false here (redis: async-timeout for python_full_version < 3.11.3)
IMAGE_PYTHON_EXTRAS = ["async-timeout>=4.0.3"]


class ImagesError(RuntimeError):
    """A wheel or jar could not be resolved, or a context could not be staged."""


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def flink_version() -> str:
    found = re.search(r"^apache-flink==(\S+)", (ROOT / "flink_jobs" / "requirements.txt").read_text(), re.M)
    if found is None:
        raise ImagesError("flink_jobs/requirements.txt pins no apache-flink==VERSION")
    return found.group(1)


def build_args(image: str) -> dict[str, str]:
    """The `--build-arg`s of `image`: the versions it packs and the version its labels carry."""
    base = {"ROADWATCH_VERSION": project_version()}
    specific = {
        "roadwatch": {},
        "kafka": {"KAFKA_VERSION": versions.KAFKA},
        "iceberg-rest": {"ICEBERG_VERSION": versions.ICEBERG},
        "s3proxy": {"S3PROXY_VERSION": versions.S3PROXY},
        "flink": {"FLINK_VERSION": flink_version(), "FLINK_CONNECTOR": CONNECTOR.split(":")[2]},
    }
    return {**base, **specific[image]}


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ImagesError(f"{what} failed (rc {proc.returncode}): {proc.stdout[-1500:]}{proc.stderr[-1500:]}")


def _freeze(python: Path) -> str:
    proc = subprocess.run(
        [UV, "pip", "freeze", "-q", "-p", str(python)], capture_output=True, text=True, check=True
    )
    pins = [line for line in proc.stdout.splitlines() if "==" in line and "@" not in line]
    return "".join(p + "\n" for p in pins if p.split("==")[0].lower() not in NOT_PINNED)


def wheelhouse(name: str, requirements: list[str], constraints: str) -> Path:
    """A folder of wheels for `requirements` under `constraints`, resolved once: offline from the folder
    itself when it already has everything, else from the package index."""
    key = hashlib.sha256(("\n".join(requirements) + constraints).encode()).hexdigest()[:12]
    house = CACHE / "wheelhouse" / f"{name}-{key}"
    house.mkdir(parents=True, exist_ok=True)
    pins = house / "constraints.txt"
    pins.write_text(constraints)
    common = ["wheel", "-q", "-w", str(house), "-c", str(pins), *requirements]
    offline = subprocess.run(
        [*PIP, *common, "--no-index", "--find-links", str(house)], capture_output=True, check=False
    )
    if offline.returncode != 0:
        log.info("filling the %s wheelhouse from the package index into %s", name, house)
        _run([*PIP, *common], f"pip wheel ({name})")
    return house


def project_wheel(dest: Path) -> Path:
    """roadwatch's own wheel, built from the working tree (uv caches its build backend)."""
    shutil.rmtree(dest, ignore_errors=True)
    _run([UV, "build", "-q", "--wheel", "-o", str(dest), str(ROOT)], "uv build (the project wheel)")
    (wheel,) = dest.glob("roadwatch-*.whl")
    return wheel


def _link(src: Path, dst: Path) -> None:
    """Hard-link `src` (a file or folder) to `dst`, copying where links cannot cross file systems."""
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=_link_file, dirs_exist_ok=True)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        _link_file(str(src), str(dst))


def _link_file(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _rest_catalog_classes(libs: Path, dest: Path) -> None:
    source = ROOT / "roadwatch" / "stack" / "java" / "RestCatalog.java"
    _run(["javac", "-d", str(dest), "-cp", f"{libs}/*", str(source)], "javac RestCatalog.java")


def stage(contexts: Path) -> None:
    """Every image's build context below `contexts` (rebuilt each time: links, so cheap)."""
    shutil.rmtree(contexts, ignore_errors=True)
    wheel = project_wheel(contexts / ".project")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = _freeze(ROOT / ".venv" / "bin" / "python")
    services = wheelhouse("roadwatch", [*deps, *IMAGE_PYTHON_EXTRAS], pins)
    flink_reqs = [
        line.strip()
        for line in (ROOT / "flink_jobs" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    flink_reqs += IMAGE_PYTHON_EXTRAS
    flink = wheelhouse("flink", flink_reqs, _freeze(ROOT / ".venv-flink" / "bin" / "python"))
    deploy = ROOT / "deploy"

    _link(services, contexts / "roadwatch" / "wheels")
    _link(wheel, contexts / "roadwatch" / "project" / wheel.name)
    _link(deploy / "roadwatch", contexts / "roadwatch" / "bin")

    _link(kafka_classpath(CACHE, versions.KAFKA), contexts / "kafka" / "libs")
    _link(deploy / "kafka", contexts / "kafka" / "bin")

    rest_libs = classpath(
        CACHE, f"iceberg-rest-{versions.ICEBERG}", "rest-catalog-pom.xml", catalog.POM_PROPERTIES
    )
    _link(rest_libs, contexts / "iceberg-rest" / "libs")
    _rest_catalog_classes(rest_libs, contexts / "iceberg-rest" / "classes")
    _link(deploy / "iceberg-rest", contexts / "iceberg-rest" / "bin")

    _link(artifact(CACHE, objectstore.COORDINATE), contexts / "s3proxy" / "s3proxy.jar")
    _link(deploy / "s3proxy", contexts / "s3proxy" / "bin")

    _link(flink, contexts / "flink" / "wheels")
    _link(wheel, contexts / "flink" / "project" / wheel.name)
    for jar in connector_jars(CACHE):
        _link(jar, contexts / "flink" / "jars" / "flink" / jar.name)
    _link(deploy / "flink", contexts / "flink" / "bin")
    for leftover in contexts.rglob("__pycache__"):
        shutil.rmtree(leftover)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="images: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("stage").add_argument("contexts", type=Path)
    sub.add_parser("args").add_argument("image", choices=IMAGES)
    args = parser.parse_args()
    try:
        if args.action == "stage":
            stage(args.contexts)
        else:
            sys.stdout.write("".join(f"{k}={v}\n" for k, v in build_args(args.image).items()))
    except (RoadwatchError, RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"images: error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
