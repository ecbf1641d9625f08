FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /srv/parley
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY app ./app
COPY migrations ./migrations
COPY schema.graphql ./
RUN uv sync --frozen --no-dev
ENV PATH="/srv/parley/.venv/bin:$PATH" PARLEY_HOST=0.0.0.0 PARLEY_ENV=production
EXPOSE 8000
CMD ["parley", "serve"]
