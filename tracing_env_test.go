package pushgate

import (
	"io"
	"log/slog"
	"testing"
)

// TestTracingFromEnv: tracing is off unless an OTLP endpoint is set, and
// OTEL_SDK_DISABLED or another OTEL_TRACES_EXPORTER turn it off again.
func TestTracingFromEnv(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"nothing set", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{"exporter otlp", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "otlp"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp, shutdown, err := tracingFromEnv(func(k string) string { return c.env[k] }, log)
			if err != nil {
				t.Fatal(err)
			}
			if got := tp != nil; got != c.on {
				t.Errorf("Got(tracing on) = %v, want %v", got, c.on)
			}
			if shutdown != nil {
				shutdown()
			}
		})
	}
}
