package pushgate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// WithTracerProvider traces with tp: a server span for every request, the
// steps of each push (decode, store, dispatch with the handler as a child,
// answer), each notification attempt and each sync task, with the W3C
// traceparent read from requests and written to notifications and task
// posts. It overrides the OTLP exporter the OTEL_EXPORTER_OTLP_* variables
// would set up; the caller shuts tp down.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// tracingFromEnv returns a tracer provider exporting over OTLP/HTTP when
// the environment asks for it (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set, OTEL_SDK_DISABLED not true,
// OTEL_TRACES_EXPORTER unset or "otlp"), with its shutdown; nil otherwise.
// The exporter reads the other standard variables itself (headers,
// timeout, TLS, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES...).
func tracingFromEnv(getenv func(string) string, log *slog.Logger) (trace.TracerProvider, func(), error) {
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, nil, nil
	}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, nil, nil
	}
	if e := getenv("OTEL_TRACES_EXPORTER"); e != "" && e != "otlp" {
		if e != "none" {
			log.Warn("tracing off: OTEL_TRACES_EXPORTER names an exporter pushgate lacks (it has otlp over HTTP)", "exporter", e)
		}
		return nil, nil, nil
	}
	exp, err := otlptracehttp.New(context.Background())
	if err != nil {
		return nil, nil, fmt.Errorf("pushgate: tracing: OTLP exporter: %w", err)
	}
	res := resource.Default()
	if getenv("OTEL_SERVICE_NAME") == "" {
		res, _ = resource.Merge(res, resource.NewSchemaless(semconv.ServiceName("pushgate")))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("tracing: flushing spans at shutdown", "err", err)
		}
	}
	return tp, shutdown, nil
}

// osGetenv is os.Getenv, for tracingFromEnv.
var osGetenv = os.Getenv
