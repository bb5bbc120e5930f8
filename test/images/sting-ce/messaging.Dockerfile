# STING-CE's messaging service from its real source, as STING-CE's messaging_service/Dockerfile
# builds it, on msting-test/sting-python instead of python:3.11-slim: its requirements come from
# Debian packages (see ../sting-python/packages) instead of pip. The build context is STING-CE's
# messaging_service/ folder.
ARG BASE
FROM ${BASE}
WORKDIR /app
COPY . .
# Compiled here because the root file system is read-only at run time (msting renders read_only).
RUN python -m compileall -q /app >/dev/null
ENV PYTHONPATH=/app
VOLUME ["/app/data"]
EXPOSE 8889
CMD ["python", "-m", "uvicorn", "server:app", "--host", "0.0.0.0", "--port", "8889"]
