package main

// The authenticated channel between the plugin and meetbridge, both directions.
//
// Every request carries an HMAC-SHA256, keyed with the shared secret, over
//
//	meetbridge-plugin-v1 \n METHOD \n PATH \n TIMESTAMP \n MATTERMOST-USER-ID \n hex(sha256(body))
//
// PATH is the path as the receiver routes it (meetbridge's "/api/plugin/…", or the plugin's
// "/api/v1/…" after Mattermost strips "/plugins/<id>"). The user id is signed so that meetbridge
// trusts it only when the plugin vouches for it; meetbridge's own calls sign an empty one.
// src/meetbridge/domain/plugin_signature.py implements the same scheme.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

const (
	signatureScheme = "meetbridge-plugin-v1"
	headerTimestamp = "X-Meetbridge-Timestamp"
	headerSignature = "X-Meetbridge-Signature"
	headerUserID    = "Mattermost-User-Id"
	// How far a request's timestamp may be from the receiver's clock, either way.
	maxClockSkew = 5 * time.Minute
)

var (
	errMissingSignature = errors.New("the request is not signed")
	errBadTimestamp     = errors.New("the request's timestamp is malformed")
	errStaleTimestamp   = errors.New("the request's timestamp is outside the accepted window")
	errBadSignature     = errors.New("the request's signature does not match")
)

func signedMessage(method, path, timestamp, userID string, body []byte) []byte {
	digest := sha256.Sum256(body)
	parts := []string{signatureScheme, method, path, timestamp, userID, hex.EncodeToString(digest[:])}
	return []byte(strings.Join(parts, "\n"))
}

// sign returns the hex signature of a request.
func sign(secret, method, path, timestamp, userID string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(signedMessage(method, path, timestamp, userID, body))
	return hex.EncodeToString(mac.Sum(nil))
}

// signedRequest is what a receiver knows of a request it is asked to trust.
type signedRequest struct {
	Method    string
	Path      string
	Timestamp string // header value, decimal Unix seconds
	Signature string // header value, lowercase hex
	UserID    string
	Body      []byte
}

// verify accepts a request only if it is signed with secret, within the clock window.
// Any malformed input is an error, never a panic.
func verify(secret string, req signedRequest, now time.Time) error {
	if req.Timestamp == "" || req.Signature == "" {
		return errMissingSignature
	}
	if len(req.Timestamp) > 12 || strings.TrimLeft(req.Timestamp, "0123456789") != "" {
		return errBadTimestamp
	}
	seconds, err := strconv.ParseInt(req.Timestamp, 10, 64)
	if err != nil {
		return errBadTimestamp
	}
	skew := now.Sub(time.Unix(seconds, 0))
	if skew > maxClockSkew || skew < -maxClockSkew {
		return errStaleTimestamp
	}
	expected := sign(secret, req.Method, req.Path, req.Timestamp, req.UserID, req.Body)
	// hmac.Equal is constant-time; a signature of another length or alphabet is just unequal.
	if !hmac.Equal([]byte(expected), []byte(req.Signature)) {
		return errBadSignature
	}
	return nil
}

func timestampOf(now time.Time) string {
	return strconv.FormatInt(now.Unix(), 10)
}
