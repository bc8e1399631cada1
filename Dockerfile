FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY locales ./locales
RUN pip install --no-cache-dir . && useradd --create-home concierge
USER concierge

# Run from the source tree so that the catalogs in /app/locales are found.
CMD ["python", "-m", "bot", "run"]
