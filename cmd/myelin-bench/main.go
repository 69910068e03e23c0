// Command myelin-bench is a load tool for Matrix homeservers: point it at
// any server that allows dummy registration (Myelin, Synapse, Dendrite,
// Conduit) and it measures message throughput and send-to-delivery latency
// over the Client-Server API, so results compare side by side.
//
//	myelin-bench throughput --url http://127.0.0.1:8008 --rooms 10 --senders-per-room 10 --messages 5000
//	myelin-bench latency --url http://127.0.0.1:8008 --members 50 --messages 200
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/myelin-im/myelin/internal/loadgen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: myelin-bench throughput|latency [flags]  (see -h of each)")
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "http://127.0.0.1:8008", "homeserver base URL")
	prefix := fs.String("prefix", "bench"+strconv.FormatInt(time.Now().Unix()%100000, 10)+"u", "prefix of the users created")
	messages := fs.Int("messages", 1000, "messages to send")
	rooms := fs.Int("rooms", 10, "throughput: rooms")
	perRoom := fs.Int("senders-per-room", 10, "throughput: senders in each room")
	members := fs.Int("members", 50, "latency: members long-polling the room")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx := context.Background()
	tr := loadgen.NewTransport()
	switch args[0] {
	case "throughput":
		users, err := loadgen.Register(ctx, *base, *prefix, *rooms**perRoom, tr)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		var roomIDs []string
		var senders []*loadgen.Client
		for r := 0; r < *rooms; r++ {
			group := users[r**perRoom : (r+1)**perRoom]
			id, err := loadgen.Room(ctx, group[0], group[1:])
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			roomIDs = append(roomIDs, id)
		}
		// senders[i] sends to rooms[i % rooms]: interleave the groups.
		for i := 0; i < *perRoom; i++ {
			for r := 0; r < *rooms; r++ {
				senders = append(senders, users[r**perRoom+i])
			}
		}
		res, err := loadgen.Throughput(ctx, senders, roomIDs, *messages)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "throughput: %d messages acknowledged in %v = %.0f msgs/s, "+
			"delivered to /sync in %v = %.0f msgs/s (%d rooms × %d senders)\n",
			res.Messages, res.Elapsed.Round(time.Millisecond), res.PerSecond(),
			res.Delivered.Round(time.Millisecond), res.DeliveredPerSecond(), *rooms, *perRoom)
	case "latency":
		users, err := loadgen.Register(ctx, *base, *prefix, *members+1, tr)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		room, err := loadgen.Room(ctx, users[0], users[1:])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		lat, err := loadgen.Latency(ctx, users[0], users[1:], room, *messages)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "latency: %d deliveries to %d members: p50 %v, p99 %v, max %v\n", len(lat), *members,
			lat.Quantile(0.5).Round(10*time.Microsecond),
			lat.Quantile(0.99).Round(10*time.Microsecond),
			lat.Quantile(1).Round(10*time.Microsecond))
	default:
		fmt.Fprintf(stderr, "unknown command %q\n", args[0])
		return 2
	}
	return 0
}
