package server

import (
	"testing"

	"zoosim/model"
	"zoosim/node"
	"zoosim/wire"
)

// BenchmarkEnsembleWrites runs 5 Zab servers and 10 clients, each keeping
// 4 setData requests in flight, and reports simulated events and wall time
// per acknowledged write.
func BenchmarkEnsembleWrites(b *testing.B) {
	e := newEnsemble(&testing.T{}, 1, 5)
	e.waitServing(5 * node.Second)
	const clients, depth = 10, 4
	var cs []*rawClient
	for i := 0; i < clients; i++ {
		c := e.client(node.ID(100+i), 4000)
		cs = append(cs, c)
		e.do(c.id, func(c *rawClient) { c.connect(node.ID(1 + i%5)) }, 0)
	}
	e.w.RunFor(100 * ms)
	e.do(cs[0].id, func(c *rawClient) {
		c.request(&wire.Request{Op: model.OpCreate, Write: model.Create{Path: "/k", ACL: model.OpenACLUnsafe, Mode: model.ModePersistent}})
	}, 50*ms)
	issued := make([]int, clients)
	done := func() int {
		n := 0
		for _, c := range cs {
			n += len(c.replies)
		}
		return n
	}
	start, events0 := done(), e.w.Stats().Events
	b.ResetTimer()
	for done()-start < b.N {
		for i, c := range cs {
			for issued[i]-len(c.replies) < depth && issued[i] < b.N {
				issued[i]++
				e.do(c.id, func(c *rawClient) {
					c.request(&wire.Request{Op: model.OpSetData, Write: model.SetData{Path: "/k", Data: []byte("v"), Version: -1}})
				}, 0)
			}
		}
		e.w.RunFor(ms)
	}
	b.StopTimer()
	acked := done() - start
	b.ReportMetric(float64(e.w.Stats().Events-events0)/float64(acked), "events/write")
	b.ReportMetric(float64(e.w.Now())/float64(node.Second), "virtual-s")
}
