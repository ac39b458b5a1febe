# syntax=docker/dockerfile:1
#
# The station console (apps/console), built like the services
# (deploy/docker/service.Dockerfile). Build from the repository root:
#
#   docker build -f deploy/docker/console.Dockerfile -t rescue/console .
#
# BuildKit reads deploy/docker/console.Dockerfile.dockerignore (next to this file)
# instead of a root .dockerignore.
#
# The image runs `python -m rescue_console ...`; the default arguments serve the pages:
#   docker run rescue/console   -> python -m rescue_console serve --host 0.0.0.0 --port 8000

# An exact Python and Debian release, pulled by its multi-architecture index digest.
ARG PYTHON_IMAGE=python:3.11.17-slim-bookworm@sha256:2333bd330d12de02514770b3585cad313644316047cdee24a7acfdece6de6efb

# ---------------------------------------------------------------- builder ---
FROM ${PYTHON_IMAGE} AS builder

# uv 0.13.8 (the one that wrote uv.lock) from PyPI, held to the sha256 PyPI publishes
# for its manylinux wheels (x86_64, aarch64): its container image has no digest here.
RUN printf 'uv==0.13.8 --hash=sha256:e18a57b8b352eb7c8feb317b9f6f533c8f0ad9673fd6cf34bbe3cf1a9f6a8984 --hash=sha256:5337c30bb893b4f9ce0ceb921ba2da0d13f649da644f40ad3bef84083bef0203\n' > /tmp/uv.txt \
 && pip install --no-cache-dir --no-deps --require-hashes -r /tmp/uv.txt \
 && rm /tmp/uv.txt

# The venv is built against the same interpreter path as the runtime stage
# (/usr/local/bin/python3.11 of the same base image), so it can be copied as is.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# 1) Third-party dependencies only: the console's and the two libraries' it uses
#    (rescue-chassis, which brings rescue-events). Reused until uv.lock or one of
#    these pyprojects changes.
COPY pyproject.toml uv.lock ./
COPY libs/events/pyproject.toml libs/events/
COPY libs/chassis/pyproject.toml libs/chassis/
COPY apps/console/pyproject.toml apps/console/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package rescue-console

# 2) The code: the console and those two libraries, never a service's code or
#    libs/localnet. Editable, at the same paths as in development.
COPY libs/events libs/events
COPY libs/chassis libs/chassis
COPY apps/console apps/console
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package rescue-console \
 && python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
      libs/events libs/chassis apps/console

# ---------------------------------------------------------------- runtime ---
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="rescue-console" \
      org.opencontainers.image.description="The station console of the regional rescue network"

RUN groupadd --system --gid 10001 rescue \
 && useradd --system --uid 10001 --gid rescue --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin rescue

# Code stays owned by root: the console's user can read it, not change it.
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/libs/events /app/libs/events
COPY --from=builder /app/libs/chassis /app/libs/chassis
COPY --from=builder /app/apps/console /app/apps/console

ENV PATH=/app/.venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:10001
EXPOSE 8000

# For a plain `docker run`; compose and Kubernetes probe /health/live and /health/ready
# themselves. python:3.11-slim has no curl: urlopen raises (exit 1) on errors and non-2xx.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=3)"]

# python is PID 1, so SIGTERM reaches uvicorn for a graceful stop.
ENTRYPOINT ["python", "-m", "rescue_console"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
