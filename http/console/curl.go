package console

import (
	"fmt"
	"strings"

	"inlet"
)

// SecretPlaceholder stands for the source's secret in curl samples: the
// console never shows a secret, so the person pastes it in.
const SecretPlaceholder = "paste-the-source-secret-here"

// CurlSample returns shell lines that send the source one test event,
// signed the way its verifier checks (openssl computes the HMACs), after
// the secret is pasted in place of SecretPlaceholder.
func CurlSample(base string, src *inlet.Source) string {
	return curlLines(base+"/collect/test-event/"+src.ID, `{"hello": "world", "n": 1}`, src)
}

// curlLines returns shell lines that POST body to url, signed for src.
func curlLines(url, body string, src *inlet.Source) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	v := src.Config.Verify
	if v != nil && v.Type != inlet.VerifyBasic {
		line("SECRET=%s  # the source's secret, which the console does not show", shellQuote(SecretPlaceholder))
	}
	line("BODY=%s", shellQuote(body))
	curl := "curl -sS -X POST " + shellQuote(url) + " -H 'Content-Type: application/json'"
	if v == nil {
		line("%s -d \"$BODY\"", curl)
		return b.String()
	}
	switch v.Type {
	case inlet.VerifyGitHub:
		line(`SIG=$(printf '%%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')`)
		line(`%s -H "X-Hub-Signature-256: sha256=$SIG" -d "$BODY"`, curl)
	case inlet.VerifyStripe:
		line(`T=$(date +%%s)`)
		line(`SIG=$(printf '%%s.%%s' "$T" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')`)
		line(`%s -H "Stripe-Signature: t=$T,v1=$SIG" -d "$BODY"`, curl)
	case inlet.VerifyShopify:
		line(`SIG=$(printf '%%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64)`)
		line(`%s -H "X-Shopify-Hmac-Sha256: $SIG" -d "$BODY"`, curl)
	case inlet.VerifyStandardWebhooks:
		line(`ID=msg_$(date +%%s%%N); T=$(date +%%s)`)
		line(`KEY=$(printf '%%s' "${SECRET#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \n')`)
		line(`SIG=$(printf '%%s.%%s.%%s' "$ID" "$T" "$BODY" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY" -binary | base64 -w0)`)
		line(`%s -H "webhook-id: $ID" -H "webhook-timestamp: $T" -H "webhook-signature: v1,$SIG" -d "$BODY"`, curl)
	case inlet.VerifyHMAC:
		alg := v.Algorithm
		if alg == "" {
			alg = "sha256"
		}
		if v.Encoding == "base64" {
			line(`SIG=$(printf '%%s' "$BODY" | openssl dgst -%s -hmac "$SECRET" -binary | base64 -w0)`, alg)
		} else {
			line(`SIG=$(printf '%%s' "$BODY" | openssl dgst -%s -hmac "$SECRET" | sed 's/^.* //')`, alg)
		}
		line(`%s -H %s"$SIG" -d "$BODY"`, curl, shellQuote(v.Header+": "+v.Prefix))
	case inlet.VerifyBasic:
		line(`PASSWORD=%s  # the source's password, which the console does not show`, shellQuote(SecretPlaceholder))
		line(`%s -u %s"$PASSWORD" -d "$BODY"`, curl, shellQuote(v.Username+":"))
	case inlet.VerifyAPIKey:
		if v.In == "query" {
			line(`curl -sS -X POST %s"$SECRET" -H 'Content-Type: application/json' -d "$BODY"`, shellQuote(url+"?"+v.KeyName()+"="))
		} else {
			line(`%s -H %s"$SECRET" -d "$BODY"`, curl, shellQuote(v.KeyName()+": "))
		}
	default:
		line("%s -d \"$BODY\"", curl)
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
