package request_test

import (
	"reflect"
	"testing"

	"github.com/clustropg/clustro/request"
)

// TestOffer: what each environment of the default policy lets a request
// ask for, in display order, and everything for an environment it does
// not know.
func TestOffer(t *testing.T) {
	p := policy(t)
	all := request.Schedules()
	withBackups := []request.Schedule{request.Hourly, request.Daily, request.Weekly}
	tests := []struct {
		name string
		env  string
		ok   bool
		want request.Offer
	}{
		{"dev allows no XL, so no very-big load; backups optional", "dev", true, request.Offer{
			Environment: "dev", Description: "Development",
			Sizes:        []request.Size{request.SizeS, request.SizeM, request.SizeL},
			Loads:        []request.Load{request.Small, request.Medium, request.Big},
			MinInstances: 1, MaxInstances: 3, Schedules: all}},
		{"staging allows every size and load", "staging", true, request.Offer{
			Environment: "staging", Description: "Staging",
			Sizes: request.Sizes(), Loads: request.Loads(),
			MinInstances: 1, MaxInstances: 5, Schedules: all}},
		{"prod requires backups: no none schedule", "prod", true, request.Offer{
			Environment: "prod", Description: "Production",
			Sizes: request.Sizes(), Loads: request.Loads(),
			MinInstances: 3, MaxInstances: 9, Schedules: withBackups, BackupsRequired: true}},
		{"an unknown environment is not ok, and offers everything", "moon", false, request.Offer{
			Environment: "moon",
			Sizes:       request.Sizes(), Loads: request.Loads(),
			MinInstances: 1, MaxInstances: 9, Schedules: all}},
		{"no environment is not ok either", "", false, request.Offer{
			Sizes: request.Sizes(), Loads: request.Loads(),
			MinInstances: 1, MaxInstances: 9, Schedules: all}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := p.Offer(tc.env)
			if ok != tc.ok {
				t.Errorf("ok = %v, want %v", ok, tc.ok)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if ok != p.HasEnvironment(tc.env) {
				t.Errorf("HasEnvironment(%q) = %v, Offer's ok = %v", tc.env, p.HasEnvironment(tc.env), ok)
			}
		})
	}
}

// TestOfferFollowsThePolicy: the offer is the policy's rules, read in
// display order whatever order the configuration lists them in; a load is
// offered only when its preset is.
func TestOfferFollowsThePolicy(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(p *request.Policy)
		sizes     []request.Size
		loads     []request.Load
		schedules []request.Schedule
	}{
		{"sizes listed out of order come in preset order",
			func(p *request.Policy) {
				p.Environments["lab"] = request.EnvironmentPolicy{AllowedSizes: []request.Size{request.SizeL, request.SizeS}, MinInstances: 1, MaxInstances: 1}
			},
			[]request.Size{request.SizeS, request.SizeL},
			[]request.Load{request.Small, request.Big},
			request.Schedules()},
		{"only XL, with very-big remapped to L: no load at all",
			func(p *request.Policy) {
				p.Loads[request.VeryBig] = request.SizeL
				p.Environments["lab"] = request.EnvironmentPolicy{AllowedSizes: []request.Size{request.SizeXL}, MinInstances: 1, MaxInstances: 1}
			},
			[]request.Size{request.SizeXL}, nil, request.Schedules()},
		{"two loads on one preset are both offered",
			func(p *request.Policy) {
				p.Loads[request.Medium] = request.SizeS
				p.Environments["lab"] = request.EnvironmentPolicy{AllowedSizes: []request.Size{request.SizeS}, MinInstances: 1, MaxInstances: 1, BackupsRequired: true}
			},
			[]request.Size{request.SizeS},
			[]request.Load{request.Small, request.Medium},
			[]request.Schedule{request.Hourly, request.Daily, request.Weekly}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := policy(t)
			tc.edit(p)
			o, ok := p.Offer("lab")
			if !ok {
				t.Fatal("lab is not offered")
			}
			if !reflect.DeepEqual(o.Sizes, tc.sizes) || !reflect.DeepEqual(o.Loads, tc.loads) || !reflect.DeepEqual(o.Schedules, tc.schedules) {
				t.Errorf("got sizes %v, loads %v, schedules %v\nwant sizes %v, loads %v, schedules %v",
					o.Sizes, o.Loads, o.Schedules, tc.sizes, tc.loads, tc.schedules)
			}
		})
	}
}

// TestLoadSize: each expected load picks the preset the policy maps it to.
func TestLoadSize(t *testing.T) {
	p := policy(t)
	tests := []struct {
		load request.Load
		want request.Size
	}{
		{request.Small, request.SizeS},
		{request.Medium, request.SizeM},
		{request.Big, request.SizeL},
		{request.VeryBig, request.SizeXL},
		{"enormous", ""},
	}
	for _, tc := range tests {
		if got := p.LoadSize(tc.load); got != tc.want {
			t.Errorf("LoadSize(%q) = %q, want %q", tc.load, got, tc.want)
		}
	}
}

// TestProfile: a client type's defaults in an environment, with the
// platform's retention where the profile names none, as Resolve fills it.
func TestProfile(t *testing.T) {
	p := policy(t)
	p.ClientTypes[request.Startup]["dev"] = request.Profile{Instances: 1, Backups: request.Daily}
	tests := []struct {
		name string
		ct   request.ClientType
		env  string
		ok   bool
		want request.Profile
	}{
		{"enterprise in prod", request.Enterprise, "prod", true, request.Profile{Instances: 3, Backups: request.Hourly, Retention: "30d"}},
		{"sme in dev backs up nothing", request.SME, "dev", true, request.Profile{Instances: 1, Backups: request.NoBackups, Retention: "14d"}},
		{"no retention in the profile: the platform's default", request.Startup, "dev", true, request.Profile{Instances: 1, Backups: request.Daily, Retention: "14d"}},
		{"an unknown environment", request.SME, "moon", false, request.Profile{}},
		{"an unknown client type", "whale", "prod", false, request.Profile{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := p.Profile(tc.ct, tc.env)
			if ok != tc.ok || got != tc.want {
				t.Errorf("Profile(%s, %s) = %+v, %v; want %+v, %v", tc.ct, tc.env, got, ok, tc.want, tc.ok)
			}
		})
	}
}
