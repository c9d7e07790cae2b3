package server

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/weir-data/weir/internal/runtime"
	"github.com/weir-data/weir/internal/store"
)

// Several servers on one PostgreSQL store (DESIGN §4): each pipeline that should run is
// run by the server that holds its lease (store.Claim). Every TTL/3 each server renews
// the leases it holds, stops what it may no longer run (its lease lost, or its desired
// state changed by a request another server took), and claims the pipelines that should
// run and have no live lease, which it then starts: the pipelines of a server that died
// move to the others within a TTL and a period. A server that stops gracefully yields its
// leases at once.

// leaseLoop keeps the leases until ctx ends.
func (c *Controller) leaseLoop(ctx context.Context) {
	t := time.NewTicker(c.ttl / 3)
	defer t.Stop()
	for {
		c.reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcile runs one round of the lease loop.
func (c *Controller) reconcile(ctx context.Context) {
	ps, err := c.st.List(ctx)
	if err != nil {
		c.log.Warn("could not list the pipelines to keep their leases", "err", err)
		return
	}
	listed := map[string]bool{}
	for _, p := range ps {
		listed[p.Name] = true
		c.reconcileOne(ctx, p)
	}
	c.mu.Lock()
	var gone []*runtime.Pipeline
	for name, pl := range c.runs { // deleted through another server
		if !listed[name] {
			gone = append(gone, pl)
			delete(c.runs, name)
			delete(c.leases, name)
		}
	}
	c.mu.Unlock()
	for _, pl := range gone {
		pl.Kill()
	}
}

func (c *Controller) reconcileOne(ctx context.Context, p *store.Pipeline) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gen, held := c.leases[p.Name]
	pl := c.runs[p.Name]
	if held {
		ok, err := c.st.Renew(ctx, p.Name, c.holder, gen, c.ttl)
		if err != nil {
			c.log.Warn("could not renew a lease; trying again", "pipeline", p.Name, "err", err)
			return
		}
		if !ok {
			delete(c.leases, p.Name)
			if pl != nil && !pl.Status().State.Terminal() {
				c.log.Warn("lost the lease of a pipeline (another server runs it now): stopping it here at once", "pipeline", p.Name)
				pl.Kill()
			}
			return
		}
		if p.Desired != store.Run && pl != nil && active(pl.Status().State) { // asked of another server
			if p.Desired == store.Suspend {
				pl.Suspend()
			} else {
				pl.Stop()
			}
		}
		if p.Desired != store.Run && (pl == nil || pl.Status().State.Terminal()) {
			c.st.Yield(ctx, p.Name, c.holder)
			delete(c.leases, p.Name)
		}
		return
	}
	if p.Desired == store.Run {
		if err := c.launch(ctx, p.Name); err != nil {
			c.log.Error("could not start a pipeline", "pipeline", p.Name, "err", err)
		}
	}
}

// claim takes the pipeline's lease for this server if it is free; c.mu is held. Without
// a shared store every pipeline is this server's.
func (c *Controller) claim(ctx context.Context, name string) (bool, error) {
	if !c.st.Shared() {
		return true, nil
	}
	if _, held := c.leases[name]; held {
		return true, nil
	}
	l, ok, err := c.st.Claim(ctx, name, c.holder, c.ttl)
	if err != nil || !ok {
		return false, err
	}
	c.leases[name] = l.Generation
	c.log.Info("took the lease of a pipeline", "pipeline", name, "generation", l.Generation)
	return true, nil
}

// yieldAll gives up every lease this server holds (it stops).
func (c *Controller) yieldAll(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.leases {
		if err := c.st.Yield(ctx, name, c.holder); err != nil {
			c.log.Warn("could not yield a lease; it expires by itself", "pipeline", name, "err", err)
		}
		delete(c.leases, name)
	}
}

// holderID names this server among those sharing the store.
func holderID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano())
}
