package prometheus

import prom "github.com/prometheus/client_golang/prometheus"

func newSignInRefusals(reg prom.Registerer) prom.Counter {
	c := prom.NewCounter(prom.CounterOpts{
		Name: "inlet_console_signin_limited_total",
		Help: "Console sign-ins refused with 429 because their client address failed too often.",
	})
	reg.MustRegister(c)
	return c
}

// SignInLimited records a console sign-in refused by its rate limit.
func (m *Metrics) SignInLimited() { m.signInLimited.Inc() }
