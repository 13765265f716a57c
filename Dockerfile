# The roadwatch services image (detector, VLM tiers, sink, topic init, produce, query): slim, no torch.
# Models are mounted, never baked in. Built by `make images` from a context it stages (build/docker/roadwatch:
# a wheelhouse of the dependencies, the project's own wheel): the build needs no network.
# BASE: any Debian bookworm image with Python 3.11 (default python:3.11-slim-bookworm; `make images` on a
# host without a registry uses roadwatch-base:python, made with debootstrap, which already has libGL).
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS deps
COPY wheels /wheels
RUN python3 -m venv /opt/roadwatch \
    && /opt/roadwatch/bin/pip install -q --no-cache-dir --no-index --disable-pip-version-check /wheels/*.whl

FROM ${BASE}
ARG ROADWATCH_VERSION=0.1.0
LABEL org.opencontainers.image.title="roadwatch" \
      org.opencontainers.image.description="roadwatch services: detector, VLM tiers, Iceberg sink, CLI" \
      org.opencontainers.image.version="${ROADWATCH_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# OpenCV (rapidocr) needs libGL; a stock slim base gets it from apt, the debootstrap base has it already
RUN if ! ldconfig -p | grep -q 'libGL.so.1 '; then apt-get update \
      && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*; fi \
    && echo 'roadwatch:x:10001:10001:roadwatch:/home/roadwatch:/usr/sbin/nologin' >>/etc/passwd \
    && echo 'roadwatch:x:10001:' >>/etc/group && mkdir -p /home/roadwatch && chown 10001:10001 /home/roadwatch
COPY --from=deps /opt/roadwatch /opt/roadwatch
COPY project /tmp/project
COPY bin/ready.py /usr/local/lib/roadwatch-ready.py
RUN /opt/roadwatch/bin/pip install -q --no-cache-dir --no-index --no-deps --disable-pip-version-check \
      /tmp/project/*.whl && rm -rf /tmp/project
# Prometheus scrapes the services from its own container: the metrics endpoint listens on every interface
# (compose.host.yml sets 127.0.0.1 on hosts that use host networking)
ENV PATH=/opt/roadwatch/bin:$PATH YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ultralytics ROADWATCH_METRICS_HOST=0.0.0.0
USER 10001:10001
WORKDIR /home/roadwatch
HEALTHCHECK --interval=5s --timeout=4s --start-period=20s --retries=12 \
    CMD ["/opt/roadwatch/bin/python", "/usr/local/lib/roadwatch-ready.py"]
ENTRYPOINT ["roadwatch"]
CMD ["--help"]
