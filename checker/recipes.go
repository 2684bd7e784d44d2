package checker

import (
	"fmt"
	"slices"

	"zoosim/model"
)

// The recipe checker: the claims clients made to hold a recipe's role
// (master, a lock) never overlap in zxid order. A claim holds over
// [FromZxid, ToZxid); ToZxid 0 means it never ended.

func (r *run) recipes() Result {
	h := r.h
	byRecipe := map[string][]int{}
	for i, c := range h.Claims {
		byRecipe[c.Recipe] = append(byRecipe[c.Recipe], i)
	}
	var vs []violation
	for _, recipe := range sortedKeys(byRecipe) {
		ids := byRecipe[recipe]
		slices.SortStableFunc(ids, func(a, b int) int {
			return cmpInt64(int64(h.Claims[a].FromZxid), int64(h.Claims[b].FromZxid))
		})
		var active []int // claims that may still hold at the current From
		for _, i := range ids {
			c := &h.Claims[i]
			kept := active[:0]
			for _, j := range active {
				if claimEnd(&h.Claims[j]) > c.FromZxid {
					kept = append(kept, j)
				}
			}
			active = kept
			for _, j := range active {
				o := &h.Claims[j]
				if o.Client == c.Client && o.Session == c.Session {
					continue
				}
				vs = append(vs, violation{key: [2]int64{int64(c.FromZxid), int64(o.FromZxid)},
					explanation: fmt.Sprintf("%s: client %d (session %#x) held it from zxid %s and client %d (session %#x) from %s, while the first still held it (until %s)",
						recipe, o.Client, o.Session, o.FromZxid, c.Client, c.Session, c.FromZxid, fmtEnd(o.ToZxid)),
					txns:    []model.Zxid{o.FromZxid, c.FromZxid},
					details: fmt.Sprintf("claim %d: %s\nclaim %d: %s\n", j, describeClaim(o), i, describeClaim(c))})
			}
			if claimEnd(c) > c.FromZxid {
				active = append(active, i)
			}
		}
	}
	return verdictOf(vs, fmt.Sprintf("%d claims in %d recipe(s) never overlap", len(h.Claims), len(byRecipe)))
}

func claimEnd(c *RecipeClaim) model.Zxid {
	if c.ToZxid == 0 {
		return model.Zxid(1<<63 - 1)
	}
	return c.ToZxid
}

func fmtEnd(z model.Zxid) string {
	if z == 0 {
		return "the end of the run"
	}
	return z.String()
}

func describeClaim(c *RecipeClaim) string {
	return fmt.Sprintf("%s held by client %d session %#x over [%s, %s)", c.Recipe, c.Client, c.Session, c.FromZxid, fmtEnd(c.ToZxid))
}
