package configs

import (
	"reflect"
	"strings"
	"testing"
)

// TestEverySettingHasItsYAMLKey: each PUSHGATE_* variable names the key of
// the config file that sets the same value, and that key is a field of
// Config (by its yaml tags).
func TestEverySettingHasItsYAMLKey(t *testing.T) {
	t.Parallel()
	for _, s := range settings {
		key := yamlKeys[s.env]
		if key == "" {
			t.Errorf("%s has no config key in yamlKeys", s.env)
			continue
		}
		typ := reflect.TypeFor[Config]()
		for _, part := range strings.Split(key, ".") {
			found := false
			for i := range typ.NumField() {
				if f := typ.Field(i); strings.Split(f.Tag.Get("yaml"), ",")[0] == part {
					typ, found = f.Type, true
					break
				}
			}
			if !found {
				t.Errorf("%s: config key %q: Config has no field %q there", s.env, key, part)
				break
			}
			for typ.Kind() == reflect.Pointer {
				typ = typ.Elem()
			}
		}
	}
	if len(yamlKeys) != len(settings) {
		t.Errorf("yamlKeys has %d entries for %d settings", len(yamlKeys), len(settings))
	}
}
