# The Baton worker image: `baton-worker`, configured from the environment.
FROM python:3.11-slim

WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY baton ./baton
COPY workflows ./workflows
COPY activities ./activities
COPY worker.py starter.py agents.toml ./
RUN pip install ".[worker]"

# No secrets in the image: keys come from the environment at run time.
RUN useradd --create-home --uid 10001 baton \
 && mkdir -p /var/lib/baton/store && chown baton /var/lib/baton/store  # a new volume mounted here copies the owner
USER baton
WORKDIR /home/baton
CMD ["baton-worker"]
