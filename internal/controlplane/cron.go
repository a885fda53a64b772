package controlplane

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronSchedule is a six-field cron schedule as CloudNativePG's
// ScheduledBackup takes it (robfig/cron with seconds): second, minute,
// hour, day of month, month, day of week (0-6, Sunday 0; 7 is Sunday too).
// Each field is *, a number, a range a-b, any of them with a step /n, or a
// comma-separated list of these; ? means * in the day fields. Names
// (JAN, MON) and the @hourly-style descriptors are not supported: the
// module renders only numeric schedules ("0 0 * * * *", "0 0 3 * * *",
// "0 0 3 * * 0"). robfig/cron is not among the module's dependencies, so
// the stand-in parses the schedule itself.
type cronSchedule struct {
	second, minute, hour, dom, month, dow uint64 // bit n set: n matches
	domStar, dowStar                      bool
}

var cronFields = []struct {
	name     string
	min, max int
}{{"second", 0, 59}, {"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}

// parseCron reads a six-field schedule.
func parseCron(spec string) (cronSchedule, error) {
	fields := strings.Fields(spec)
	if len(fields) != 6 {
		return cronSchedule{}, fmt.Errorf("schedule %q: want six fields (second minute hour day-of-month month day-of-week), got %d", spec, len(fields))
	}
	var bits [6]uint64
	for i, f := range fields {
		b, err := parseCronField(f, cronFields[i].min, cronFields[i].max)
		if err != nil {
			return cronSchedule{}, fmt.Errorf("schedule %q: %s field: %w", spec, cronFields[i].name, err)
		}
		bits[i] = b
	}
	if bits[5]&(1<<7) != 0 {
		bits[5] |= 1 // 7 is Sunday
	}
	return cronSchedule{second: bits[0], minute: bits[1], hour: bits[2], dom: bits[3], month: bits[4], dow: bits[5],
		domStar: fields[3] == "*" || fields[3] == "?", dowStar: fields[5] == "*" || fields[5] == "?"}, nil
}

// parseCronField reads one field into a bit set of the values it matches.
func parseCronField(f string, lo, hi int) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(f, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("bad step %q", stepText)
			}
			step = n
		}
		from, to := lo, hi
		switch {
		case rng == "*" || rng == "?":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err1, err2 error
			from, err1 = strconv.Atoi(a)
			to, err2 = strconv.Atoi(b)
			if err1 != nil || err2 != nil {
				return 0, fmt.Errorf("bad range %q", rng)
			}
		default:
			n, err := strconv.Atoi(rng)
			if err != nil {
				return 0, fmt.Errorf("bad value %q (only numbers, *, ranges and steps are supported)", rng)
			}
			from, to = n, n
			if hasStep {
				to = hi
			}
		}
		if from < lo || to > hi || from > to {
			return 0, fmt.Errorf("%q is outside %d-%d", part, lo, hi)
		}
		for v := from; v <= to; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

// next is the first time after t the schedule matches, in t's location;
// zero if none within five years.
func (c cronSchedule) next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Second).Add(time.Second)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		switch {
		case c.month&(1<<uint(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case c.hour&(1<<uint(t.Hour())) == 0:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
		case c.minute&(1<<uint(t.Minute())) == 0:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()+1, 0, 0, loc)
		case c.second&(1<<uint(t.Second())) == 0:
			t = t.Add(time.Second)
		default:
			return t
		}
	}
	return time.Time{}
}

// dayMatches applies cron's rule: with both day fields restricted, either
// matching is enough.
func (c cronSchedule) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dow&(1<<uint(t.Weekday())) != 0
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}
