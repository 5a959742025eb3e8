"""The baseline: a bare Flask route, served by the same gunicorn settings as the real app."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/bare")
def bare():
    return jsonify([{"id": 1, "status": "submitted"}])
