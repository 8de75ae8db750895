package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin/plugintest"
	"github.com/stretchr/testify/mock"
)

const aliceID = "abcdefghijklmnopqrstuvwxyz"
const channelID = "zyxwvutsrqponmlkjihgfedcba"

type published struct {
	event     string
	payload   map[string]any
	broadcast *model.WebsocketBroadcast
}

func configuredPlugin(t *testing.T, meetbridgeURL string) (*Plugin, *[]published) {
	t.Helper()
	p := newPlugin()
	p.config.Store(&configuration{MeetbridgeURL: meetbridgeURL, SharedSecret: testSecret})
	p.now = func() time.Time { return time.Unix(1_700_000_000, 0) }
	var events []published
	p.publish = func(event string, payload map[string]any, broadcast *model.WebsocketBroadcast) {
		events = append(events, published{event, payload, broadcast})
	}
	return p, &events
}

func serve(p *Plugin, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	p.ServeHTTP(nil, w, r)
	return w
}

func signedEvent(body, userID string, at time.Time) *http.Request {
	r := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader(body))
	ts := timestampOf(at)
	r.Header.Set(headerTimestamp, ts)
	r.Header.Set(headerSignature, sign(testSecret, "POST", "/api/v1/events", ts, userID, []byte(body)))
	if userID != "" {
		r.Header.Set(headerUserID, userID)
	}
	return r
}

func TestManifestIDMatchesPluginJSON(t *testing.T) {
	raw, err := os.ReadFile("../plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest model.Manifest
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Id != manifestID {
		t.Fatalf("plugin.json id %q, code %q", manifest.Id, manifestID)
	}
	if err := manifest.IsValid(); err != nil {
		t.Fatalf("plugin.json is not a valid manifest: %v", err)
	}
}

func TestUserRoutesRefuseRequestsWithoutASignedInUser(t *testing.T) {
	p, _ := configuredPlugin(t, "http://127.0.0.1:1")
	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/api/v1/status", nil),
		httptest.NewRequest("POST", "/api/v1/meeting", strings.NewReader(`{"channel_id":"`+channelID+`"}`)),
	} {
		if w := serve(p, r); w.Code != http.StatusUnauthorized {
			t.Fatalf("%s %s answered %d without a user", r.Method, r.URL.Path, w.Code)
		}
	}
	forged := httptest.NewRequest("GET", "/api/v1/status", nil)
	forged.Header.Set(headerUserID, "not-an-id")
	if w := serve(p, forged); w.Code != http.StatusUnauthorized {
		t.Fatalf("a malformed user id was accepted: %d", w.Code)
	}
}

func TestStartMeetingForwardsTheUserSignedAndRelaysTheAnswer(t *testing.T) {
	var seen signedRequest
	meetbridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = signedRequest{r.Method, r.URL.Path, r.Header.Get(headerTimestamp),
			r.Header.Get(headerSignature), r.Header.Get(headerUserID), body}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"join_link":"https://meet.example/join/x"}`))
	}))
	defer meetbridge.Close()
	p, _ := configuredPlugin(t, meetbridge.URL)
	r := httptest.NewRequest("POST", "/api/v1/meeting",
		strings.NewReader(`{"channel_id":"`+channelID+`","topic":"Review"}`))
	r.Header.Set(headerUserID, aliceID)
	w := serve(p, r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "https://meet.example/join/x") {
		t.Fatalf("answer %d %s", w.Code, w.Body.String())
	}
	if seen.Path != meetbridgeMeetingPath || seen.UserID != aliceID {
		t.Fatalf("forwarded %s for %q", seen.Path, seen.UserID)
	}
	if err := verify(testSecret, seen, p.now()); err != nil {
		t.Fatalf("meetbridge would refuse the plugin's signature: %v", err)
	}
}

func TestStartMeetingRefusesBadInputAndUnreachableMeetbridge(t *testing.T) {
	p, _ := configuredPlugin(t, "http://127.0.0.1:1")
	for body, want := range map[string]int{
		`{"channel_id":"short"}`: 400,
		`not json`:               400,
		`{"channel_id":"` + channelID + `","topic":"` + strings.Repeat("x", 1001) + `"}`: 400,
		`{"channel_id":"` + channelID + `"}`:                                             502,
	} {
		r := httptest.NewRequest("POST", "/api/v1/meeting", strings.NewReader(body))
		r.Header.Set(headerUserID, aliceID)
		if w := serve(p, r); w.Code != want {
			t.Fatalf("body %.40q answered %d, want %d", body, w.Code, want)
		}
	}
}

func TestUnconfiguredPluginAnswers503(t *testing.T) {
	p := newPlugin()
	r := httptest.NewRequest("POST", "/api/v1/meeting", strings.NewReader(`{"channel_id":"`+channelID+`"}`))
	r.Header.Set(headerUserID, aliceID)
	if w := serve(p, r); w.Code != 503 {
		t.Fatalf("answered %d", w.Code)
	}
}

func TestSignedEventIsPublishedToItsChannelOnly(t *testing.T) {
	p, events := configuredPlugin(t, "http://127.0.0.1:1")
	body := `{"event":"meeting_state","data":{"state":"started"},"channel_id":"` + channelID + `"}`
	w := serve(p, signedEvent(body, "", p.now()))
	if w.Code != http.StatusNoContent {
		t.Fatalf("answered %d %s", w.Code, w.Body.String())
	}
	if len(*events) != 1 || (*events)[0].event != "meeting_state" ||
		(*events)[0].broadcast.ChannelId != channelID || (*events)[0].payload["state"] != "started" {
		t.Fatalf("published %+v", *events)
	}
}

func TestEventsRefuseUnsignedOrMalformedCalls(t *testing.T) {
	p, events := configuredPlugin(t, "http://127.0.0.1:1")
	good := `{"event":"meeting_state","data":{},"channel_id":"` + channelID + `"}`
	unsigned := httptest.NewRequest("POST", "/api/v1/events", strings.NewReader(good))
	stale := signedEvent(good, "", p.now().Add(-time.Hour))
	asUser := signedEvent(good, "", p.now())
	asUser.Header.Set(headerUserID, aliceID) // a signed-in user replaying meetbridge's call
	cases := map[string]struct {
		r    *http.Request
		want int
	}{
		"unsigned":       {unsigned, 401},
		"stale":          {stale, 401},
		"user id added":  {asUser, 401},
		"bad event name": {signedEvent(`{"event":"../x","channel_id":"`+channelID+`"}`, "", p.now()), 400},
		"no audience":    {signedEvent(`{"event":"meeting_state"}`, "", p.now()), 400},
		"both audiences": {signedEvent(`{"event":"x","channel_id":"`+channelID+`","user_id":"`+aliceID+`"}`, "", p.now()), 400},
		"not json":       {signedEvent(`[1,2`, "", p.now()), 400},
		"too large":      {signedEvent(strings.Repeat(" ", maxBody+1), "", p.now()), 413},
	}
	for name, tc := range cases {
		if w := serve(p, tc.r); w.Code != tc.want {
			t.Fatalf("%s: answered %d, want %d (%s)", name, w.Code, tc.want, w.Body.String())
		}
	}
	if len(*events) != 0 {
		t.Fatalf("a refused call published %+v", *events)
	}
}

func TestConfigurationValidation(t *testing.T) {
	valid := []configuration{
		{},
		{MeetbridgeURL: "https://meet.example.com/", SharedSecret: testSecret},
		{MeetbridgeURL: "http://127.0.0.1:8787", SharedSecret: model.FakeSetting},
	}
	for _, c := range valid {
		if _, err := c.normalised(); err != nil {
			t.Fatalf("%+v refused: %v", c, err)
		}
	}
	invalid := []configuration{
		{MeetbridgeURL: "ftp://meet.example.com"},
		{MeetbridgeURL: "meet.example.com"},
		{MeetbridgeURL: "https://user:pw@meet.example.com"},
		{MeetbridgeURL: "https://meet.example.com/?x=1"},
		{MeetbridgeURL: "https:///nohost"},
		{MeetbridgeURL: "https://meet.example.com", SharedSecret: "short"},
		{MeetbridgeURL: "https://meet.example.com", SharedSecret: strings.Repeat("é", 40)},
	}
	for _, c := range invalid {
		if _, err := c.normalised(); err == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
	clean, _ := configuration{MeetbridgeURL: " https://meet.example.com/ "}.normalised()
	if clean.MeetbridgeURL != "https://meet.example.com" {
		t.Fatalf("not normalised: %q", clean.MeetbridgeURL)
	}
}

func TestConfigurationWillBeSavedRejectsABadURL(t *testing.T) {
	p := newPlugin()
	cfg := &model.Config{}
	cfg.PluginSettings.Plugins = map[string]map[string]any{
		manifestID: {"meetbridgeurl": "javascript:alert(1)", "sharedsecret": testSecret},
	}
	if _, err := p.ConfigurationWillBeSaved(cfg); err == nil {
		t.Fatal("a javascript: URL was accepted")
	}
	cfg.PluginSettings.Plugins[manifestID]["meetbridgeurl"] = "https://meet.example.com"
	if _, err := p.ConfigurationWillBeSaved(cfg); err != nil {
		t.Fatalf("a good configuration was refused: %v", err)
	}
}

func TestOnConfigurationChangeWithABadURLLeavesThePluginUnconfigured(t *testing.T) {
	p := newPlugin()
	api := &plugintest.API{}
	api.On("LoadPluginConfiguration", mock.Anything).Run(func(args mock.Arguments) {
		*args.Get(0).(*configuration) = configuration{
			MeetbridgeURL: "javascript:alert(1)", SharedSecret: testSecret,
		}
	}).Return(nil)
	p.SetAPI(api)
	p.config.Store(&configuration{MeetbridgeURL: "https://old.example.com", SharedSecret: testSecret})
	if err := p.OnConfigurationChange(); err == nil {
		t.Fatal("a javascript: URL was applied")
	}
	if p.configuration().ready() {
		t.Fatalf("the plugin still talks to %q", p.configuration().MeetbridgeURL)
	}
}

func TestOnConfigurationChangeAppliesGoodSettingsNormalised(t *testing.T) {
	p := newPlugin()
	api := &plugintest.API{}
	api.On("LoadPluginConfiguration", mock.Anything).Run(func(args mock.Arguments) {
		*args.Get(0).(*configuration) = configuration{
			MeetbridgeURL: "https://meet.example.com/", SharedSecret: testSecret,
		}
	}).Return(nil)
	p.SetAPI(api)
	if err := p.OnConfigurationChange(); err != nil {
		t.Fatal(err)
	}
	if got := p.configuration(); !got.ready() || got.MeetbridgeURL != "https://meet.example.com" {
		t.Fatalf("applied %+v", got)
	}
}

func TestMeetbridgeRefusingThePluginIsReportedAsMisconfigurationNotAsTheUsersFault(t *testing.T) {
	for _, refusal := range []int{http.StatusUnauthorized, http.StatusServiceUnavailable} {
		meetbridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(refusal)
			_, _ = w.Write([]byte(`{"error":"the request's signature does not match"}`))
		}))
		p, _ := configuredPlugin(t, meetbridge.URL)
		r := httptest.NewRequest("POST", "/api/v1/meeting", strings.NewReader(`{"channel_id":"`+channelID+`"}`))
		r.Header.Set(headerUserID, aliceID)
		w := serve(p, r)
		meetbridge.Close()
		if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "same shared secret") {
			t.Fatalf("meetbridge's %d became %d %s", refusal, w.Code, w.Body.String())
		}
	}
}

func TestARedirectingMeetbridgeIsNotFollowed(t *testing.T) {
	followed := false
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		followed = true
	}))
	defer elsewhere.Close()
	meetbridge := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusFound))
	defer meetbridge.Close()
	p, _ := configuredPlugin(t, meetbridge.URL)
	r := httptest.NewRequest("POST", "/api/v1/meeting", strings.NewReader(`{"channel_id":"`+channelID+`"}`))
	r.Header.Set(headerUserID, aliceID)
	if w := serve(p, r); w.Code != http.StatusBadGateway || followed {
		t.Fatalf("answered %d, followed the redirect: %v", w.Code, followed)
	}
}

func TestMeetingsInProgressAsksMeetbridgeForTheSignedInUser(t *testing.T) {
	var seen signedRequest
	meetbridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = signedRequest{r.Method, r.URL.Path, r.Header.Get(headerTimestamp),
			r.Header.Get(headerSignature), r.Header.Get(headerUserID), body}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"meetings":[{"channel_id":"` + channelID + `"}]}`))
	}))
	defer meetbridge.Close()
	p, _ := configuredPlugin(t, meetbridge.URL)
	if w := serve(p, httptest.NewRequest("GET", "/api/v1/meetings", nil)); w.Code != 401 {
		t.Fatalf("answered %d without a user", w.Code)
	}
	r := httptest.NewRequest("GET", "/api/v1/meetings", nil)
	r.Header.Set(headerUserID, aliceID)
	w := serve(p, r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), channelID) {
		t.Fatalf("answer %d %s", w.Code, w.Body.String())
	}
	if seen.Method != "POST" || seen.Path != meetbridgeMeetingsPath || seen.UserID != aliceID {
		t.Fatalf("forwarded %s %s for %q", seen.Method, seen.Path, seen.UserID)
	}
	if err := verify(testSecret, seen, p.now()); err != nil {
		t.Fatalf("meetbridge would refuse the plugin's signature: %v", err)
	}
}

func TestAnswerRingForwardsOnlyAnIgnoreOfAWellFormedRing(t *testing.T) {
	var seen signedRequest
	meetbridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = signedRequest{r.Method, r.URL.Path, r.Header.Get(headerTimestamp),
			r.Header.Get(headerSignature), r.Header.Get(headerUserID), body}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer meetbridge.Close()
	p, _ := configuredPlugin(t, meetbridge.URL)
	var forwarded signedRequest
	for body, want := range map[string]int{
		`{"ring_id":7,"answer":"ignore"}`:                204,
		`{"ring_id":7,"answer":"join"}`:                  400,
		`{"ring_id":-1,"answer":"ignore"}`:               400,
		`{"ring_id":"7","answer":"ignore"}`:              400,
		`{"ring_id":9007199254740993,"answer":"ignore"}`: 400,
		`[]`: 400,
	} {
		seen = signedRequest{}
		r := httptest.NewRequest("POST", "/api/v1/ring", strings.NewReader(body))
		r.Header.Set(headerUserID, aliceID)
		if w := serve(p, r); w.Code != want {
			t.Fatalf("body %s answered %d, want %d", body, w.Code, want)
		}
		if want != 204 && seen.Path != "" {
			t.Fatalf("body %s was forwarded", body)
		}
		if want == 204 {
			forwarded = seen
		}
	}
	if forwarded.Path != meetbridgeRingPath || forwarded.UserID != aliceID {
		t.Fatalf("forwarded %s for %q", forwarded.Path, forwarded.UserID)
	}
	if err := verify(testSecret, forwarded, p.now()); err != nil {
		t.Fatalf("meetbridge would refuse the plugin's signature: %v", err)
	}
}
