package inlet

import (
	"strings"
	"testing"
)

func TestSealedSecrets(t *testing.T) {
	ring, err := ParseKeyring("# current first\n" + NewSecretKey() + "\n" + NewSecretKey() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	config := []byte(`{"url":"redis://u:pw-1@h:6379/0","secret":"s-1","headers":{"X-A":"h-1"},"timeout":"5s"}`)
	sealed, err := ring.SealConfig(SecretDestination, "d1", config)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"pw-1", "s-1", "h-1"} {
		if strings.Contains(string(sealed), s) {
			t.Errorf("sealed config %s holds %q", sealed, s)
		}
	}
	t.Run("a sealed config opens to what was sealed, members in order", func(t *testing.T) {
		got, err := ring.OpenConfig(SecretDestination, "d1", sealed)
		if err != nil || string(got) != string(config) {
			t.Errorf("OpenConfig = %s, %v; want %s", got, err, config)
		}
	})
	t.Run("a sealed value moved to another row does not open", func(t *testing.T) {
		_, err := ring.OpenConfig(SecretDestination, "d2", sealed)
		if ErrorCode(err) != EUNAVAILABLE || !strings.Contains(err.Error(), "copied from another row") {
			t.Errorf("OpenConfig of another row = %v", err)
		}
	})
	t.Run("a secret that reads like a sealed value is sealed all the same", func(t *testing.T) {
		tricky := []byte(`{"secret":"enc:v1:nokey:AAAA"}`)
		sealed, err := ring.SealConfig(SecretDestination, "d1", tricky)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ring.OpenConfig(SecretDestination, "d1", sealed); err != nil || string(got) != string(tricky) {
			t.Errorf("OpenConfig = %s, %v; want %s", got, err, tricky)
		}
	})
	t.Run("masking follows the same fields", func(t *testing.T) {
		d := &Destination{Config: config}
		b, _ := d.MarshalJSON()
		if want := `"config":{"headers":{"X-A":"****"},"secret":"****","timeout":"5s","url":"redis://u:****@h:6379/0"}`; !strings.Contains(string(b), want) {
			t.Errorf("masked destination %s; want %s", b, want)
		}
		c := SourceConfig{Verify: &VerifyConfig{Type: VerifyBasic, Username: "ann", Password: "p-1"}}
		if m := c.Masked(); m.Verify.Password != MaskedSecret || m.Verify.Username != "ann" {
			t.Errorf("masked source config %+v", m.Verify)
		}
	})
	t.Run("key rings that are not one say which key", func(t *testing.T) {
		for _, text := range []string{"", "k1", "k1:" + strings.Repeat("A", 8), NewSecretKey() + "\nbad key:AAAA"} {
			if _, err := ParseKeyring(text); ErrorCode(err) != EINVALID {
				t.Errorf("ParseKeyring(%q) = %v; want EINVALID", text, err)
			}
		}
	})
}
