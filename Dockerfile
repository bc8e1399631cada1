# The image installs the wheel, as `pip install` would anywhere: the bot runs from
# site-packages (catalogs and the example config are package data), not from a source tree.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY locales ./locales
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
# The postgres extra: docker-compose.yml runs the bot with PostgreSQL.
RUN pip install --no-cache-dir "$(ls /wheels/concierge-*.whl)[postgres]" \
    && rm -rf /wheels \
    && useradd --create-home concierge
USER concierge
# The working directory holds nothing but a SQLite database, if DATABASE_URL points there.
WORKDIR /home/concierge
CMD ["concierge", "run"]
