# STING-CE's chatbot (Bee) from its real source, as STING-CE's chatbot/Dockerfile builds it, on
# msting-test/sting-python instead of python:3.12.8-slim: its requirements come from Debian
# packages (see ../sting-python/packages) instead of pip. The build context is STING-CE's STING/
# folder, as in STING-CE's docker-compose.yml (context: ., dockerfile: ./chatbot/Dockerfile), so its
# .dockerignore applies.
ARG BASE
FROM ${BASE}
WORKDIR /app
COPY ./chatbot /app/chatbot
COPY ./conf /app/conf
RUN mkdir -p /app/env /app/logs \
 && chmod -R 755 /app \
 && find /app -type f -exec chmod 644 {} \; \
 && find /app -type d -exec chmod 755 {} \; \
 && chmod +x /app/chatbot/entrypoint.sh \
 && python -m compileall -q /app/chatbot /app/conf >/dev/null
# Compiled above because the root file system is read-only at run time (msting renders read_only).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8081
EXPOSE 8081
ENTRYPOINT ["/bin/bash", "/app/chatbot/entrypoint.sh"]
