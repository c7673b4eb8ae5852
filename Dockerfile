FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml constraints.txt ./
RUN pip install -c constraints.txt . && useradd --create-home stride
COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

USER stride
EXPOSE 8000
CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
