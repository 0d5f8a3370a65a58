package inlet_test

import (
	"strings"
	"testing"

	"inlet"
)

func TestMappingValidate(t *testing.T) {
	tests := []struct {
		name    string
		mapping inlet.Mapping
		field   string // named in the error; "" when valid
	}{
		{"an empty mapping is valid", inlet.Mapping{}, ""},
		{"a full mapping is valid", inlet.Mapping{
			ProfileIDPath: "data.object.customer", SessionIDPath: "session", EventTypePath: "type",
			GenerateProfile: true, SplitArray: true,
			IdentifyBy: map[string]string{"email": "customer.email", "phone": "customer.phone"},
			Traits:     map[string]string{"name": "customer.name", "plan.tier": "items.0.plan"},
		}, ""},
		{"an empty name in profile_id_path is refused", inlet.Mapping{ProfileIDPath: "data..customer"}, "config.profile_id_path"},
		{"a trailing dot in session_id_path is refused", inlet.Mapping{SessionIDPath: "session."}, "config.session_id_path"},
		{"an overlong event_type_path is refused", inlet.Mapping{EventTypePath: strings.Repeat("a", 300)}, "config.event_type_path"},
		{"an identifier kind with capitals is refused", inlet.Mapping{IdentifyBy: map[string]string{"Email": "email"}}, "config.identify_by"},
		{"an identifier with an empty path is refused", inlet.Mapping{IdentifyBy: map[string]string{"email": ""}}, "config.identify_by.email"},
		{"a trait name with a space is refused", inlet.Mapping{Traits: map[string]string{"full name": "name"}}, "config.traits"},
		{"a trait with a bad path is refused", inlet.Mapping{Traits: map[string]string{"name": ".name"}}, "config.traits.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := inlet.Source{ID: "s", Name: "s", Type: inlet.SourceTypeWebhook, Config: inlet.SourceConfig{Mapping: tt.mapping}}
			err := src.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if inlet.ErrorCode(err) != inlet.EINVALID || !strings.Contains(inlet.ErrorMessage(err), tt.field) {
				t.Fatalf("Validate = %v; want EINVALID naming %s", err, tt.field)
			}
		})
	}
}

func TestMappingMaps(t *testing.T) {
	if (&inlet.Mapping{}).Maps() {
		t.Error("an empty mapping maps")
	}
	if !(&inlet.Mapping{IdentifyBy: map[string]string{"email": "email"}}).Maps() {
		t.Error("a mapping with identify_by does not map")
	}
}
