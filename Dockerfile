FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir .
ENV RETAIL_SYNC_HOME=/var/lib/retail-sync
EXPOSE 8000
CMD ["uvicorn", "retail_sync.entrypoints.web:app", "--host", "0.0.0.0", "--port", "8000"]
