package mailtest

import "testing"

func TestOutboxMeetsTheContract(t *testing.T) {
	RunOutbox(t, func(t *testing.T) Fixture {
		o := NewOutbox()
		return Fixture{Outbox: o, Enqueue: o.Enqueue}
	})
}
