package inlet

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Secrets at rest: the values that secretFields names are masked in every
// answer and stored encrypted with AES-256-GCM under a key ring that is
// not in the database. A sealed value reads
//
//	enc:v1:<key id>:<base64 of nonce and ciphertext>
//
// and is bound by its additional data to the row and field it was sealed
// for (SecretRow.Kind, SecretRow.ID, the field's path), so that it cannot
// be moved to another row or field.
const sealedPrefix = "enc:v1:"

// SecretKeyBytes is the length of a secrets key: AES-256.
const SecretKeyBytes = 32

// Kinds of SecretRow.
const (
	SecretSource      = "source"      // a source's config
	SecretDestination = "destination" // a destination's config
	SecretSetting     = "setting"     // a value of the settings, whole (the privacy hash key)
)

// secretField is a write-only value of a config, as a path of JSON object
// keys from the config's root ("*": every key of that object).
type secretField struct {
	path []string
	// url: the value is a URL of which only the password is secret; it is
	// masked alone and the whole URL sealed when it has one.
	url bool
}

// secretFields are, per kind of row, the values that are write-only: the
// one list that masking (answers) and sealing (storage) both follow, so a
// new secret field is added here only.
var secretFields = map[string][]secretField{
	SecretSource: {
		{path: []string{"verify", "secret"}},
		{path: []string{"verify", "password"}},
		{path: []string{"verify", "verify_token"}},
	},
	SecretDestination: {
		{path: []string{"secret"}},
		{path: []string{"password"}},
		{path: []string{"token"}},
		// Headers often carry credentials: every value is secret.
		{path: []string{"headers", "*"}},
		// A connection URL (redis://, amqp://, postgres://) may carry a
		// password.
		{path: []string{"url"}, url: true},
	},
}

// fieldsUnder returns the fields of kind below the object at prefix, with
// paths relative to it.
func fieldsUnder(kind string, prefix ...string) []secretField {
	var out []secretField
	for _, f := range secretFields[kind] {
		if len(f.path) > len(prefix) && slices.Equal(f.path[:len(prefix)], prefix) {
			out = append(out, secretField{path: f.path[len(prefix):], url: f.url})
		}
	}
	return out
}

// rewriteSecrets returns the JSON object config with fn applied to each
// non-empty string value that fields name; fn gets the field's dotted path
// and the value. The members keep their order; a config whose values fn
// returns unchanged is returned as it is.
func rewriteSecrets(config []byte, fields []secretField, fn func(f secretField, path, value string) (string, error)) ([]byte, error) {
	obj, err := decodeObject(config)
	if err != nil {
		return nil, Errorf(EINVALID, "config must be a JSON object")
	}
	changed := false
	for _, f := range fields {
		c, err := rewriteField(obj, f, f.path, "", fn)
		if err != nil {
			return nil, err
		}
		changed = changed || c
	}
	if !changed {
		return config, nil
	}
	return obj.encode(), nil
}

// member is a member of a JSON object, its value as written.
type member struct {
	key   string
	value json.RawMessage
}

// object is a JSON object's members in their order.
type object []member

// decodeObject reads a JSON object, keeping the order of its members.
func decodeObject(b []byte) (object, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	obj := object{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		obj = append(obj, member{key: t.(string), value: v})
	}
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	return obj, nil
}

func (obj object) encode() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range obj {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func rewriteField(obj object, f secretField, path []string, at string, fn func(f secretField, path, value string) (string, error)) (bool, error) {
	changed := false
	for i, m := range obj {
		if path[0] != "*" && m.key != path[0] {
			continue
		}
		name := strings.TrimPrefix(at+"."+m.key, ".")
		if len(path) > 1 {
			inner, err := decodeObject(m.value)
			if err != nil {
				continue
			}
			c, err := rewriteField(inner, f, path[1:], name, fn)
			if err != nil {
				return false, err
			}
			if c {
				obj[i].value = inner.encode()
				changed = true
			}
			continue
		}
		var s string
		if json.Unmarshal(m.value, &s) != nil || s == "" || (f.url && !urlHasPassword(s) && !isSealed(s)) {
			continue
		}
		out, err := fn(f, name, s)
		if err != nil {
			return false, err
		}
		if out != s {
			obj[i].value, _ = json.Marshal(out)
			changed = true
		}
	}
	return changed, nil
}

// urlHasPassword reports whether s is a URL with a password.
func urlHasPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return false
	}
	_, has := u.User.Password()
	return has
}

func isSealed(s string) bool {
	_, sealed := sealedKey(s)
	return sealed
}

// maskValue is what an answer shows of the secret value s: MaskedSecret,
// keeping a whsec_ prefix, or a URL with its password masked.
func maskValue(f secretField, s string) string {
	if f.url {
		u, err := url.Parse(s) // rewriteField passes URLs with a password only
		if err != nil || u.User == nil {
			return MaskedSecret
		}
		// Written by hand: url.URL.String would escape the mask's
		// asterisks.
		name := url.User(u.User.Username()).String()
		u.User = nil
		rest, _ := strings.CutPrefix(u.String(), u.Scheme+"://")
		return u.Scheme + "://" + name + ":" + MaskedSecret + "@" + rest
	}
	if strings.HasPrefix(s, whsecPrefix) {
		return whsecPrefix + MaskedSecret
	}
	return MaskedSecret
}

// isMasked reports whether s is what an answer shows of a secret.
func isMasked(s string) bool {
	return s == MaskedSecret || s == whsecPrefix+MaskedSecret
}

// maskSecrets returns config with every secret value of fields masked.
func maskSecrets(config []byte, fields []secretField) ([]byte, error) {
	return rewriteSecrets(config, fields, func(f secretField, _, s string) (string, error) {
		return maskValue(f, s), nil
	})
}

// keepSecrets returns config with each secret value that it leaves out or
// sends back masked taken from old, the stored config: so that an update
// may send back what it read. A value is taken only where its object
// exists in config.
func keepSecrets(config, old []byte, fields []secretField) []byte {
	var m, o map[string]any
	if decodeNumbers(config, &m) != nil || decodeNumbers(old, &o) != nil || m == nil || o == nil {
		return config
	}
	for _, f := range fields {
		keepField(m, o, f, f.path)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return config
	}
	return b
}

// decodeNumbers is json.Unmarshal keeping numbers as they are written.
func decodeNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

func keepField(m, o map[string]any, f secretField, path []string) {
	if path[0] == "*" {
		for k := range m {
			keepField(m, o, f, append([]string{k}, path[1:]...))
		}
		return
	}
	k := path[0]
	if len(path) > 1 {
		inner, ok1 := m[k].(map[string]any)
		oldInner, ok2 := o[k].(map[string]any)
		if ok1 && ok2 {
			keepField(inner, oldInner, f, path[1:])
		}
		return
	}
	oldValue, ok := o[k].(string)
	if !ok {
		return
	}
	v, present := m[k]
	s, isString := v.(string)
	switch {
	case !present && !f.url:
		m[k] = oldValue
	case isString && f.url:
		m[k] = keepURLPassword(s, oldValue)
	case isString && isMasked(s):
		m[k] = oldValue
	}
}

// keepURLPassword returns the URL raw with a masked password replaced by
// the one of old, the stored URL.
func keepURLPassword(raw, old string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if p, has := u.User.Password(); !has || !isMasked(p) {
		return raw
	}
	o, err := url.Parse(old)
	if err != nil || o.User == nil {
		return raw
	}
	if p, has := o.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), p)
		return u.String()
	}
	return raw
}

// Keyring holds the keys that secrets are sealed with: the current one
// seals, every one opens. Its text form (a key file, $INLET_SECRETS_KEY)
// is one key a line, "<id>:<base64 of 32 bytes>", the current one first;
// blank lines and lines starting with # are skipped.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewSecretKey returns a line of a key ring's text form holding a new
// random key.
func NewSecretKey() string {
	id := make([]byte, 4)
	key := make([]byte, SecretKeyBytes)
	rand.Read(id)
	rand.Read(key)
	return hex.EncodeToString(id) + ":" + base64.StdEncoding.EncodeToString(key)
}

// ParseKeyring reads a key ring's text form. Returns EINVALID, saying
// which line is wrong.
func ParseKeyring(text string) (*Keyring, error) {
	k := &Keyring{aeads: make(map[string]cipher.AEAD)}
	for i, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, ":")
		key, err := base64.StdEncoding.DecodeString(b64)
		if !ok || !validKeyID(id) || err != nil || len(key) != SecretKeyBytes {
			return nil, Errorf(EINVALID, "secrets key %d is not <id>:<base64 of %d bytes> (make one with `inlet secrets key`)", i+1, SecretKeyBytes)
		}
		if k.aeads[id] != nil {
			return nil, Errorf(EINVALID, "secrets key id %q appears twice", id)
		}
		block, _ := aes.NewCipher(key)
		k.aeads[id], _ = cipher.NewGCM(block)
		if k.current == "" {
			k.current = id
		}
	}
	if k.current == "" {
		return nil, Errorf(EINVALID, "no secrets key given (make one with `inlet secrets key`)")
	}
	return k, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Current returns the id of the key that seals.
func (k *Keyring) Current() string { return k.current }

// seal encrypts value under the current key, bound to ad.
func (k *Keyring) seal(value, ad string) string {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	rand.Read(nonce)
	out := aead.Seal(nonce, nonce, []byte(value), []byte(ad))
	return sealedPrefix + k.current + ":" + base64.StdEncoding.EncodeToString(out)
}

// sealedKey returns the key id of a sealed value, or false for a plain one.
func sealedKey(value string) (string, bool) {
	rest, ok := strings.CutPrefix(value, sealedPrefix)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ":")
	return id, ok
}

// open decrypts a sealed value bound to ad; a plain value is returned as
// it is. where names the value in an error. Returns EUNAVAILABLE when the
// key is not in the ring or the value does not open.
func (k *Keyring) open(value, ad, where string) (string, error) {
	id, ok := sealedKey(value)
	if !ok {
		return value, nil
	}
	aead := k.aeads[id]
	if aead == nil {
		return "", Errorf(EUNAVAILABLE, "%s is encrypted under secrets key %q, which this node does not have: add that key to its key ring (--secrets-key-file or $INLET_SECRETS_KEY, docs/secrets.md)", where, id)
	}
	raw, err := base64.StdEncoding.DecodeString(value[len(sealedPrefix)+len(id)+1:])
	if err == nil && len(raw) >= aead.NonceSize() {
		var plain []byte
		if plain, err = aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(ad)); err == nil {
			return string(plain), nil
		}
	}
	return "", Errorf(EUNAVAILABLE, "%s does not decrypt with secrets key %q: it was altered or copied from another row", where, id)
}

func secretAD(kind, id, path string) string { return kind + "/" + id + "/" + path }

func secretWhere(kind, id, path string) string {
	if kind == SecretSetting {
		return "the setting " + id
	}
	return kind + " " + id + "'s config." + path
}

// SealConfig returns the config of row (kind SecretSource or
// SecretDestination, id), as the domain holds it, with its secret values
// sealed, for storage.
func (k *Keyring) SealConfig(kind, id string, config []byte) ([]byte, error) {
	return rewriteSecrets(config, secretFields[kind], func(_ secretField, path, s string) (string, error) {
		// Every value is sealed, even one that reads like a sealed one:
		// configs come from the API, in plain.
		return k.seal(s, secretAD(kind, id, path)), nil
	})
}

// OpenConfig returns a stored config with its secret values decrypted.
// Returns EUNAVAILABLE when a value is under a key the ring lacks.
func (k *Keyring) OpenConfig(kind, id string, stored []byte) ([]byte, error) {
	return rewriteSecrets(stored, secretFields[kind], func(_ secretField, path, s string) (string, error) {
		return k.open(s, secretAD(kind, id, path), secretWhere(kind, id, path))
	})
}

// SealSetting seals the value of the setting name.
func (k *Keyring) SealSetting(name, value string) string {
	return k.seal(value, secretAD(SecretSetting, name, "value"))
}

// OpenSetting decrypts the stored value of the setting name; a plain value
// is returned as it is.
func (k *Keyring) OpenSetting(name, stored string) (string, error) {
	return k.open(stored, secretAD(SecretSetting, name, "value"), secretWhere(SecretSetting, name, ""))
}

// SecretRow is one stored value that holds secrets: a source's or a
// destination's config, or a secret setting (its Value whole).
type SecretRow struct {
	Kind  string // SecretSource, SecretDestination or SecretSetting
	ID    string
	Value []byte
}

// SecretRows is what Reseal needs from a store's transaction: the rows
// that hold secrets, and a way to write one back.
type SecretRows interface {
	SecretRows(ctx context.Context) ([]SecretRow, error)
	PutSecretRow(ctx context.Context, r SecretRow) error
}

// Reseal seals every plain secret of the rows of tx and, with rotate,
// re-encrypts every sealed one that another key sealed under the current
// key. It returns how many values it wrote. Every sealed value is opened,
// so a value under a key the ring lacks fails it with EUNAVAILABLE, naming
// the key: a node that starts with the wrong key ring says so at once.
func (k *Keyring) Reseal(ctx context.Context, tx SecretRows, rotate bool) (int, error) {
	rows, err := tx.SecretRows(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		reseal := func(path, s string) (string, error) {
			ad := secretAD(r.Kind, r.ID, path)
			id, sealed := sealedKey(s)
			plain, err := k.open(s, ad, secretWhere(r.Kind, r.ID, path))
			if err != nil {
				return "", err
			}
			if sealed && (!rotate || id == k.current) {
				return s, nil
			}
			n++
			return k.seal(plain, ad), nil
		}
		var out []byte
		if r.Kind == SecretSetting {
			s, err := reseal("value", string(r.Value))
			if err != nil {
				return 0, err
			}
			out = []byte(s)
		} else if out, err = rewriteSecrets(r.Value, secretFields[r.Kind], func(_ secretField, path, s string) (string, error) {
			return reseal(path, s)
		}); err != nil {
			return 0, err
		}
		if string(out) != string(r.Value) {
			r.Value = out
			if err := tx.PutSecretRow(ctx, r); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// ResealIn runs Reseal in the transaction that inTx opens for it (a
// store's one way to reach its rows), and says what it did.
func (k *Keyring) ResealIn(ctx context.Context, rotate bool, inTx func(reseal func(SecretRows) error) error) (SecretsRotation, error) {
	var n int
	err := inTx(func(rows SecretRows) error {
		var err error
		n, err = k.Reseal(ctx, rows, rotate)
		return err
	})
	if err != nil {
		return SecretsRotation{}, err
	}
	return SecretsRotation{Key: k.current, Reencrypted: n}, nil
}

// SecretsRotation is the outcome of a rotation.
type SecretsRotation struct {
	// Key is the id of the key that every secret is now encrypted under.
	Key string `json:"key"`
	// Reencrypted is how many values were encrypted again.
	Reencrypted int `json:"reencrypted"`
}

// SecretStore re-encrypts the secrets a store holds.
type SecretStore interface {
	// RotateSecrets re-encrypts every stored secret under the current key
	// of the store's key ring, in one transaction. Returns EUNAVAILABLE
	// when a secret is under a key the ring lacks (nothing is changed).
	RotateSecrets(ctx context.Context) (SecretsRotation, error)
}

// SealSourceConfig encodes the config of source id for storage, its
// secrets sealed.
func (k *Keyring) SealSourceConfig(id string, c *SourceConfig) ([]byte, error) {
	b, err := c.SecretJSON()
	if err != nil {
		return nil, err
	}
	return k.SealConfig(SecretSource, id, b)
}

// OpenSourceConfig decodes the stored config of source id into c, its
// secrets decrypted. Returns EUNAVAILABLE when a secret is under a key the
// ring lacks.
func (k *Keyring) OpenSourceConfig(id string, stored []byte, c *SourceConfig) error {
	b, err := k.OpenConfig(SecretSource, id, stored)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, c); err != nil {
		return fmt.Errorf("source %s: config: %w", id, err)
	}
	return nil
}

// DecodeHashKey returns the privacy hash key from its stored value (see
// PrivacyStore.HashKey).
func DecodeHashKey(k *Keyring, stored string) ([]byte, error) {
	v, err := k.OpenSetting("hash_key", stored)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(v)
}
