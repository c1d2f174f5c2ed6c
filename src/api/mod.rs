//! The node API (`http.host`/`http.port`, default 127.0.0.1:9600, as Logstash's): `GET /`,
//! `GET /_node/stats`, `GET /health`, `GET /metrics`.
