# Builds the agent-otel collector distribution from deploy/collector/manifest.yaml with ocb.
FROM golang:1.25 AS build
RUN go install go.opentelemetry.io/collector/cmd/builder@v0.161.0
WORKDIR /build
COPY deploy/collector/manifest.yaml .
RUN builder --config manifest.yaml

FROM gcr.io/distroless/base-debian12
COPY --from=build /build/_build/otelcol-agent-otel /otelcol-agent-otel
EXPOSE 4317 4318 13133
ENTRYPOINT ["/otelcol-agent-otel"]
