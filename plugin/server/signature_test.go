package main

import (
	"strings"
	"testing"
	"time"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func signedAt(now time.Time, body string) signedRequest {
	ts := timestampOf(now)
	return signedRequest{
		Method: "POST", Path: "/api/v1/events", Timestamp: ts, UserID: "",
		Signature: sign(testSecret, "POST", "/api/v1/events", ts, "", []byte(body)),
		Body:      []byte(body),
	}
}

func TestSignatureMatchesTheSchemeMeetbridgeUses(t *testing.T) {
	// Same vector as tests/unit/test_plugin_signature.py: both sides must agree byte for byte.
	got := sign(testSecret, "POST", "/api/plugin/meeting", "1700000000",
		"abcdefghijklmnopqrstuvwxyz", []byte(`{"channel_id":"c"}`))
	want := "031cbc4d15175ecf0188ed31b9a3c239570b0d9f84dbf09e003aa1f8d15918bf"
	if got != want {
		t.Fatalf("signature %s differs from the shared vector %s", got, want)
	}
}

func TestVerifyAcceptsAFreshCorrectSignature(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	if err := verify(testSecret, signedAt(now, `{"a":1}`), now.Add(4*time.Minute)); err != nil {
		t.Fatalf("a fresh signature was refused: %v", err)
	}
}

func TestVerifyRefusesHostileRequests(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cases := map[string]struct {
		change func(*signedRequest)
		secret string
		want   error
	}{
		"no signature":      {func(r *signedRequest) { r.Signature = "" }, testSecret, errMissingSignature},
		"no timestamp":      {func(r *signedRequest) { r.Timestamp = "" }, testSecret, errMissingSignature},
		"negative time":     {func(r *signedRequest) { r.Timestamp = "-1" }, testSecret, errBadTimestamp},
		"float time":        {func(r *signedRequest) { r.Timestamp = "1700000000.5" }, testSecret, errBadTimestamp},
		"huge time":         {func(r *signedRequest) { r.Timestamp = strings.Repeat("9", 40) }, testSecret, errBadTimestamp},
		"non-ASCII time":    {func(r *signedRequest) { r.Timestamp = "١٧٠٠٠٠٠٠٠٠" }, testSecret, errBadTimestamp},
		"stale":             {func(r *signedRequest) { r.Timestamp = timestampOf(now.Add(-6 * time.Minute)) }, testSecret, errStaleTimestamp},
		"from the future":   {func(r *signedRequest) { r.Timestamp = timestampOf(now.Add(6 * time.Minute)) }, testSecret, errStaleTimestamp},
		"wrong secret":      {func(*signedRequest) {}, testSecret + "x", errBadSignature},
		"body changed":      {func(r *signedRequest) { r.Body = []byte(`{"a":2}`) }, testSecret, errBadSignature},
		"path changed":      {func(r *signedRequest) { r.Path = "/api/v1/meeting" }, testSecret, errBadSignature},
		"method changed":    {func(r *signedRequest) { r.Method = "PUT" }, testSecret, errBadSignature},
		"user id added":     {func(r *signedRequest) { r.UserID = "abcdefghijklmnopqrstuvwxyz" }, testSecret, errBadSignature},
		"uppercase hex":     {func(r *signedRequest) { r.Signature = strings.ToUpper(r.Signature) }, testSecret, errBadSignature},
		"truncated":         {func(r *signedRequest) { r.Signature = r.Signature[:32] }, testSecret, errBadSignature},
		"non-ASCII":         {func(r *signedRequest) { r.Signature = "é" + r.Signature[2:] }, testSecret, errBadSignature},
		"timestamp changed": {func(r *signedRequest) { r.Timestamp = timestampOf(now.Add(time.Second)) }, testSecret, errBadSignature},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := signedAt(now, `{"a":1}`)
			tc.change(&req)
			if err := verify(tc.secret, req, now); err != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
