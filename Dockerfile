# The one image behind every editions service in compose.yaml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY editions ./editions
COPY worker ./worker
COPY schedules ./schedules
COPY storage ./storage
COPY bench ./bench
RUN pip install --upgrade pip && pip install .

# Never run the fetcher as root.
RUN useradd --create-home --uid 10001 editions
USER editions

CMD ["editions", "--help"]
