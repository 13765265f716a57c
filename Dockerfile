# The roadwatch services image (detector, VLM tiers, sink, topic init). Models are mounted, never baked in.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY roadwatch roadwatch
COPY schemas schemas
COPY services services
COPY flink_jobs flink_jobs
COPY apps apps
RUN pip install --no-cache-dir .
# Prometheus scrapes the services from its own container: the metrics endpoint listens on every interface
ENV YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ultralytics ROADWATCH_METRICS_HOST=0.0.0.0
ENTRYPOINT ["roadwatch"]
