package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sirupsen/logrus"
)

// startGroup starts g's consumer goroutine; g.done closes when it returns.
func (r *Rabbit) startGroup(g *group) {
	go func() {
		defer close(g.done)
		r.consumeGroup(g)
	}()
}

// consumeGroup runs consumer sessions for g, one per channel, until the group
// stops.
func (r *Rabbit) consumeGroup(g *group) {
	log := r.log.WithField("topic", g.key.topic).WithField("group", g.key.group)
	for failures := 0; ; failures++ {
		ch, err := r.conns.channel(g.ctx)
		start := time.Now()
		if err == nil {
			err = r.consumeSession(g, ch)
			_ = ch.Close()
		}
		if g.ctx.Err() != nil {
			return
		}
		if time.Since(start) > r.opts.RetryMax {
			failures = 0
		}
		log.WithError(err).Warn("bus: RabbitMQ consumer interrupted; resuming")
		if !sleepCtx(g.ctx, backoff(r.opts.RetryMin, r.opts.RetryMax, failures)) {
			return
		}
	}
}

// consumeSession declares g's topology on ch and consumes its queues, one
// goroutine per partition, until ch closes or the group stops. It returns
// after every handler call has finished and been acknowledged or rejected.
func (r *Rabbit) consumeSession(g *group, ch *amqp.Channel) error {
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Qos(1, 0, false); err != nil {
		return fmt.Errorf("setting prefetch: %w", err)
	}
	if err := r.declareGroup(ch, g.key.topic, g.key.group); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(g.ctx)
	defer cancel()
	var wg sync.WaitGroup
	for p := 0; p < r.opts.Partitions; p++ {
		deliveries, err := ch.Consume(queueName(g.key.topic, g.key.group, p), "", false, false, false, false, nil)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("consuming partition %d: %w", p, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.consumePartition(ctx, g, p, deliveries)
		}()
	}
	var err error
	select {
	case <-g.ctx.Done():
	case amqpErr := <-closed:
		err = channelClosed(amqpErr)
	}
	cancel()
	wg.Wait()
	return err
}

// channelClosed is the error for a channel that closed, with the broker's
// reason when it gave one (nil when the channel was closed on purpose).
func channelClosed(amqpErr *amqp.Error) error {
	if amqpErr == nil {
		return errors.New("channel closed")
	}
	return fmt.Errorf("channel closed: %w", amqpErr)
}

// consumePartition handles the deliveries of one queue, one at a time.
func (r *Rabbit) consumePartition(ctx context.Context, g *group, part int, deliveries <-chan amqp.Delivery) {
	var lastFailed string // ID of the message that failed last, to grow its backoff
	failures := 0
	for {
		var d amqp.Delivery
		var ok bool
		select {
		case <-ctx.Done():
			return
		case d, ok = <-deliveries:
			if !ok || ctx.Err() != nil {
				// Closing: an unhandled delivery is requeued when the
				// channel closes.
				return
			}
		}
		msg := deliveryMessage(g.key.topic, d)
		if msg.ID != lastFailed {
			failures = 0
		}
		fields := logrus.Fields{"topic": msg.Topic, "group": g.key.group, "partition": part, "msg_id": msg.ID}
		err := r.handleDelivery(ctx, g, part, msg)
		if err == nil {
			lastFailed = ""
			if ackErr := d.Ack(false); ackErr != nil {
				r.log.WithFields(fields).WithError(ackErr).Warn("bus: acknowledging to RabbitMQ failed; the message will be redelivered")
			}
			continue
		}
		lastFailed = msg.ID
		r.m.retried(msg.Topic, g.key.group)
		if !errors.Is(err, errNoSubscriber) && ctx.Err() == nil {
			delay := backoff(r.opts.RetryMin, r.opts.RetryMax, failures)
			r.log.WithFields(fields).WithError(err).WithField("attempt", failures+1).
				WithField("retry_in", delay.String()).Warn("bus: handler failed; the message will be redelivered")
			failures++
			// Keep holding the message (prefetch 1: nothing after it
			// arrives) until it is time to retry.
			sleepCtx(ctx, delay)
		}
		if nackErr := d.Nack(false, true); nackErr != nil && ctx.Err() == nil {
			r.log.WithFields(fields).WithError(nackErr).Warn("bus: rejecting to RabbitMQ failed")
		}
	}
}

// errNoSubscriber means the group had no subscriber left for a delivery.
var errNoSubscriber = errors.New("bus: no subscriber")

// handleDelivery calls the group's subscriber for part, and records an
// acknowledgement.
func (r *Rabbit) handleDelivery(ctx context.Context, g *group, part int, msg Message) error {
	sub := g.acquire(part)
	if sub == nil {
		return errNoSubscriber
	}
	_, err := sub.call([]Message{msg})
	if err == nil {
		r.m.acked(msg.Topic, g.key.group, msg.Published)
		return nil
	}
	if sub.ctx.Err() != nil && ctx.Err() == nil {
		// That subscriber left; requeue at once for another one.
		return fmt.Errorf("%w: %w", errNoSubscriber, err)
	}
	return err
}

// deliveryMessage turns a delivery into a Message: ID from MessageId, key and
// publication time from the reserved headers, the rest of the headers as
// they are.
func deliveryMessage(topic string, d amqp.Delivery) Message {
	msg := Message{ID: d.MessageId, Topic: topic, Body: d.Body, Published: d.Timestamp}
	for k, v := range d.Headers {
		switch k {
		case headerKey:
			msg.Key, _ = v.(string)
		case headerPublished:
			if us, ok := v.(int64); ok {
				msg.Published = time.UnixMicro(us)
			}
		default:
			if msg.Headers == nil {
				msg.Headers = map[string]string{}
			}
			switch s := v.(type) {
			case string:
				msg.Headers[k] = s
			default:
				msg.Headers[k] = fmt.Sprint(s)
			}
		}
	}
	return msg
}
