package walwriter

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Values is what generated values look like.
type Values uint8

const (
	// ValuesLetters: random lowercase letters (cheap; compress about as
	// badly as data can while staying printable).
	ValuesLetters Values = iota
	// ValuesJSON: JSON documents like a service's records (order events
	// with a nested user, address and item list), built from the same field
	// names and small vocabularies over and over, with numbers and short
	// strings, so that they compress as real user data does.
	ValuesJSON
)

// DefaultJSONValueMin and DefaultJSONValueMax are the JSON value sizes when
// GenOptions leaves them 0.
const (
	DefaultJSONValueMin = 200
	DefaultJSONValueMax = 2000
)

// ParseValues accepts "letters" and "json".
func ParseValues(s string) (Values, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "letters":
		return ValuesLetters, nil
	case "json":
		return ValuesJSON, nil
	}
	return 0, fmt.Errorf("walwriter: values %q: want letters or json", s)
}

func (v Values) String() string {
	if v == ValuesJSON {
		return "json"
	}
	return "letters"
}

// Vocabularies of the JSON documents: real records repeat a few hundred
// distinct words, which is what a compressor learns.
var (
	jsonNames    = strings.Fields("alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert sybil trent victor walter xavier yvonne zoe liam noah emma ava mia lucas mateo sofia")
	jsonDomains  = strings.Fields("example.com mail.example.org corp.example.net shop.example.io")
	jsonCities   = strings.Fields("Berlin Paris Madrid Lisbon Vienna Prague Warsaw Dublin Oslo Helsinki Athens Rome Milan Zurich Geneva Lyon Hamburg Munich Porto Seville")
	jsonCountry  = strings.Fields("DE FR ES PT AT CZ PL IE NO FI GR IT CH")
	jsonStatus   = strings.Fields("created paid packed shipped delivered returned cancelled")
	jsonTiers    = strings.Fields("free basic silver gold platinum")
	jsonTags     = strings.Fields("red blue green black white xl l m s gift sale new eco bulk fragile express")
	jsonChannels = strings.Fields("web ios android store partner")
	jsonWords    = strings.Fields("please leave the parcel at the front door ring twice call on arrival deliver after six pm gift wrap requested no invoice in box fragile handle with care")
)

// jsonDoc builds one JSON document of exactly n bytes (n ≥ jsonMinSize):
// a record with a nested user and address, items until the next would
// not fit, and a "note" of words that pads it to n. Deterministic in rng.
type jsonDoc struct {
	b   []byte
	rng *rand.Rand
}

// jsonMinSize is the smallest document jsonValue makes: the core fields
// with their longest vocabulary words and numbers, no items, an empty note.
const jsonMinSize = 200

func pick(rng *rand.Rand, words []string) string { return words[rng.IntN(len(words))] }

func (d *jsonDoc) str(name, v string) {
	d.b = append(d.b, '"')
	d.b = append(d.b, name...)
	d.b = append(d.b, `":"`...)
	d.b = append(d.b, v...)
	d.b = append(d.b, `",`...)
}

func (d *jsonDoc) num(name string, v int64) {
	d.b = append(d.b, '"')
	d.b = append(d.b, name...)
	d.b = append(d.b, `":`...)
	d.b = strconv.AppendInt(d.b, v, 10)
	d.b = append(d.b, ',')
}

func (d *jsonDoc) price(name string, cents int64) {
	d.b = append(d.b, '"')
	d.b = append(d.b, name...)
	d.b = append(d.b, `":`...)
	d.b = strconv.AppendInt(d.b, cents/100, 10)
	d.b = append(d.b, '.', byte('0'+cents/10%10), byte('0'+cents%10), ',')
}

// item appends one element of "items" (with a trailing comma).
func (d *jsonDoc) item(ts int64) {
	r := d.rng
	d.b = append(d.b, '{')
	d.str("sku", fmt.Sprintf("SKU-%05d", r.IntN(2000)))
	d.num("qty", 1+r.Int64N(5))
	d.price("price", 99+r.Int64N(20000))
	d.b = append(d.b, `"tags":[`...)
	for i, n := 0, 1+r.IntN(3); i < n; i++ {
		if i > 0 {
			d.b = append(d.b, ',')
		}
		d.b = append(d.b, '"')
		d.b = append(d.b, pick(r, jsonTags)...)
		d.b = append(d.b, '"')
	}
	d.b = append(d.b, "],"...)
	d.num("added_at", ts/1_000_000-r.Int64N(86400))
	d.b[len(d.b)-1] = '}'
	d.b = append(d.b, ',')
}

// jsonValue appends a document of exactly n bytes (n is raised to
// jsonMinSize) for a write at timestamp ts (µs): the core fields, then the
// optional sections (email, address, items) while the document can still
// close within n, then a "note" of words that pads it to n.
func jsonValue(dst []byte, rng *rand.Rand, n int, ts int64) []byte {
	n = max(n, jsonMinSize)
	d := jsonDoc{b: dst, rng: rng}
	start := len(dst)
	name := pick(rng, jsonNames)
	d.b = append(d.b, '{')
	d.num("id", 1_000_000+rng.Int64N(9_000_000))
	d.str("type", "order")
	d.str("status", pick(rng, jsonStatus))
	d.str("channel", pick(rng, jsonChannels))
	d.b = append(d.b, `"user":{`...)
	d.num("id", 1+rng.Int64N(100_000))
	d.str("name", name)
	d.str("tier", pick(rng, jsonTiers))
	d.b[len(d.b)-1] = '}'
	d.b = append(d.b, ',')
	d.num("created_at", ts/1_000_000)
	// The tail closes any document: `"items":[...],"total":<price>,"note":""}`.
	const tail = len(`"items":[],"total":123456789.00,"note":""}`)
	fits := func(before int) bool {
		if len(d.b)-start+tail <= n {
			return true
		}
		d.b = d.b[:before]
		return false
	}
	before := len(d.b)
	d.str("email", name+strconv.Itoa(rng.IntN(100))+"@"+pick(rng, jsonDomains))
	if fits(before) {
		before = len(d.b)
		d.b = append(d.b, `"address":{`...)
		d.str("city", pick(rng, jsonCities))
		d.str("zip", fmt.Sprintf("%05d", rng.IntN(100_000)))
		d.str("country", pick(rng, jsonCountry))
		d.b[len(d.b)-1] = '}'
		d.b = append(d.b, ',')
		fits(before)
	}
	d.b = append(d.b, `"items":[`...)
	var total int64
	for {
		before := len(d.b)
		d.item(ts)
		if len(d.b)-start+tail-len(`"items":[`) > n {
			d.b = d.b[:before]
			break
		}
		total += 100 + rng.Int64N(5000)
	}
	if d.b[len(d.b)-1] == ',' {
		d.b = d.b[:len(d.b)-1] // the last item's comma
	}
	d.b = append(d.b, "],"...)
	d.price("total", total)
	d.b = append(d.b, `"note":"`...)
	// Pad with words to exactly n bytes (`"}` closes).
	for left := n - (len(d.b) - start) - 2; left > 0; {
		w := pick(rng, jsonWords)
		if d.b[len(d.b)-1] != '"' {
			w = " " + w
		}
		if len(w) > left {
			w = w[:left]
		}
		d.b = append(d.b, w...)
		left -= len(w)
	}
	d.b = append(d.b, `"}`...)
	return d.b
}
