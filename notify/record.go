package notify

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pushgate/pushgate/models"
)

// recordBatch bounds how many attempts share one RecordDeliveryAttempts call.
const recordBatch = 256

// recordTimeout bounds one RecordDeliveryAttempts call.
const recordTimeout = 30 * time.Second

// recordReq is an attempt a worker waits to see recorded.
type recordReq struct {
	o    models.DeliveryOutcome
	done chan error
}

// record has the recorder store o and returns once it is committed. A worker
// takes its next delivery only after its attempt is recorded, so that nothing
// it did lives only in memory for long.
func (n *Notifier) record(o models.DeliveryOutcome) error {
	req := recordReq{o: o, done: make(chan error, 1)}
	n.records <- req
	return <-req.done
}

// recordLoop stores the attempts workers hand in. Whatever arrives while one
// call runs goes into the next, so the workers' attempts share statements and
// commits (one round trip for many on PostgreSQL). It returns when records is
// closed and drained.
func (n *Notifier) recordLoop() {
	batch := make([]recordReq, 0, recordBatch)
	outs := make([]models.DeliveryOutcome, 0, recordBatch)
	for req := range n.records {
		batch = append(batch[:0], req)
	more:
		for len(batch) < recordBatch {
			select {
			case req, ok := <-n.records:
				if !ok {
					break more
				}
				batch = append(batch, req)
			default:
				break more
			}
		}
		outs = outs[:0]
		for _, r := range batch {
			outs = append(outs, r.o)
		}
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		lost, err := n.store.RecordDeliveryAttempts(ctx, outs)
		cancel()
		for _, r := range batch {
			switch {
			case err != nil:
				r.done <- err
			case slices.Contains(lost, r.o.DeliveryID):
				r.done <- fmt.Errorf("notify: delivery %d attempt %d: %w", r.o.DeliveryID, r.o.Attempt, models.ErrLeaseLost)
			default:
				r.done <- nil
			}
		}
		clear(batch)
	}
}
