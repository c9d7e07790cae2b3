package transform

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/weir-data/weir/internal/event"
	"github.com/weir-data/weir/internal/types"
)

// Functions of Flink CDC's transform documentation that MySQL's lacks or writes otherwise:
// trimming by characters, string tests, regular expression counts and positions, arrays
// (JSON arrays of their elements, as the array type is everywhere in weir), JSON parsing,
// time of day.

var (
	bytesType     = types.Type{Kind: types.Bytes}
	timeType      = types.Type{Kind: types.Time, Precision: 6}
	stringArrType = types.Type{Kind: types.Array, Elem: &stringType}
)

func init() {
	trimBy := func(left, right bool) function {
		return function{1, 2, func(a []node) (node, error) {
			return strict(stringType, a, func(v []event.Value) (event.Value, error) {
				s, cut := toText(v[0]), " "
				if len(v) == 2 {
					cut = toText(v[1])
				}
				if left {
					s = strings.TrimLeft(s, cut)
				}
				if right {
					s = strings.TrimRight(s, cut)
				}
				return event.String(s), nil
			}), nil
		}}
	}
	functions["btrim"] = trimBy(true, true)
	functions["ltrim"] = trimBy(true, false)
	functions["rtrim"] = trimBy(false, true)
	functions["repeat"] = function{2, 2, func(a []node) (node, error) {
		return strict(stringType, a, func(v []event.Value) (event.Value, error) {
			n, err := toInt(v[1])
			if err != nil {
				return v[1], err
			}
			s := toText(v[0])
			if n <= 0 {
				return event.String(""), nil
			}
			if int64(len(s))*n > 1<<24 {
				return v[0], fmt.Errorf("REPEAT would make %d bytes; at most 16 MiB", int64(len(s))*n)
			}
			return event.String(strings.Repeat(s, int(n))), nil
		}), nil
	}}
	functions["instr"] = function{2, 2, func(a []node) (node, error) { // INSTR(s, sub): LOCATE(sub, s)
		return functions["locate"].build([]node{a[1], a[0]})
	}}
	affix := func(f func(s, p string) bool) function {
		return function{2, 2, func(a []node) (node, error) {
			return strict(boolType, a, func(v []event.Value) (event.Value, error) {
				return event.Bool(f(toText(v[0]), toText(v[1]))), nil
			}), nil
		}}
	}
	functions["startswith"] = affix(strings.HasPrefix)
	functions["endswith"] = affix(strings.HasSuffix)
	functions["regexp_count"] = function{2, 2, func(a []node) (node, error) {
		return regexpFunc(a, int64Type, func(re *regexp.Regexp, v []event.Value) (event.Value, error) {
			return event.Int(int64(len(re.FindAllStringIndex(toText(v[0]), -1)))), nil
		})
	}}
	functions["regexp_instr"] = function{2, 2, func(a []node) (node, error) {
		return regexpFunc(a, int64Type, func(re *regexp.Regexp, v []event.Value) (event.Value, error) {
			s := toText(v[0])
			loc := re.FindStringIndex(s)
			if loc == nil {
				return event.Int(0), nil
			}
			return event.Int(int64(len([]rune(s[:loc[0]])) + 1)), nil
		})
	}}
	functions["regexp_extract_all"] = function{2, 3, func(a []node) (node, error) {
		return regexpFunc(a, stringArrType, func(re *regexp.Regexp, v []event.Value) (event.Value, error) {
			group := int64(1)
			if re.NumSubexp() == 0 {
				group = 0
			}
			if len(v) == 3 {
				var err error
				if group, err = toInt(v[2]); err != nil {
					return v[2], err
				}
			}
			if group < 0 || group > int64(re.NumSubexp()) {
				return v[0], fmt.Errorf("the regular expression has %d groups, not %d", re.NumSubexp(), group)
			}
			out := []string{}
			for _, m := range re.FindAllStringSubmatch(toText(v[0]), -1) {
				out = append(out, m[group])
			}
			b, _ := json.Marshal(out)
			return event.JSON(string(b)), nil
		})
	}}
	functions["cardinality"] = function{1, 1, func(a []node) (node, error) {
		return strict(int64Type, a, func(v []event.Value) (event.Value, error) {
			arr, err := elements(v[0])
			return event.Int(int64(len(arr))), err
		}), nil
	}}
	functions["__weir_cardinality"] = functions["cardinality"] // CARDINALITY(x), renamed by rewriteReserved
	functions["array_position"] = function{2, 2, func(a []node) (node, error) {
		return strict(int64Type, a, func(v []event.Value) (event.Value, error) {
			arr, err := elements(v[0])
			if err != nil {
				return v[0], err
			}
			want := jsonOf(v[1])
			for i, e := range arr {
				if string(e) == want {
					return event.Int(int64(i + 1)), nil
				}
			}
			return event.Int(0), nil
		}), nil
	}}
	functions["array_contains"] = function{2, 2, func(a []node) (node, error) {
		pos, err := functions["array_position"].build(a)
		if err != nil {
			return node{}, err
		}
		return node{typ: boolType, eval: func(in *Input) (event.Value, error) {
			v, err := pos.eval(in)
			if err != nil || v.IsNull() {
				return v, err
			}
			return event.Bool(v.Int() > 0), nil
		}}, nil
	}}
	functions["element"] = function{1, 1, func(a []node) (node, error) {
		typ := jsonType
		if a[0].typ.Kind == types.Array && a[0].typ.Elem != nil {
			typ = *a[0].typ.Elem
		}
		return strict(typ, a, func(v []event.Value) (event.Value, error) {
			arr, err := elements(v[0])
			switch {
			case err != nil:
				return v[0], err
			case len(arr) == 0:
				return event.Null(), nil
			case len(arr) > 1:
				return v[0], fmt.Errorf("ELEMENT of an array of %d elements: it takes one of one", len(arr))
			}
			return fromJSON(arr[0], typ), nil
		}), nil
	}}
	parseJSON := func(try bool) function {
		return function{1, 1, func(a []node) (node, error) {
			return strict(jsonType, a, func(v []event.Value) (event.Value, error) {
				s := toText(v[0])
				if !json.Valid([]byte(s)) {
					if try {
						return event.Null(), nil
					}
					return v[0], fmt.Errorf("not JSON: %.40q", s)
				}
				return event.JSON(s), nil
			}), nil
		}}
	}
	functions["parse_json"] = parseJSON(false)
	functions["try_parse_json"] = parseJSON(true)
	functions["from_base64_binary"] = function{1, 1, func(a []node) (node, error) {
		return strict(bytesType, a, func(v []event.Value) (event.Value, error) {
			b, err := base64.StdEncoding.DecodeString(toText(v[0]))
			if err != nil {
				return v[0], fmt.Errorf("not base64: %w", err)
			}
			return event.Bytes(b), nil
		}), nil
	}}
	timeOfDay := func(c *compiler, a []node) (node, error) {
		if err := argCount(a, 0, 0); err != nil {
			return node{}, err
		}
		return node{typ: timeType, eval: func(*Input) (event.Value, error) {
			us := wallMicros(time.Now(), c.loc)
			return event.Time(us - floorDiv(us, usPerDay)*usPerDay), nil
		}}, nil
	}
	compilerFunctions["localtime"] = timeOfDay
	compilerFunctions["current_time"] = timeOfDay
}

// elements are the elements of an array value (JSON), as JSON texts.
func elements(v event.Value) ([]json.RawMessage, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(v.Str()), &arr); err != nil {
		return nil, fmt.Errorf("not an array: %.40q", v.Str())
	}
	return arr, nil
}

// jsonOf is v as an array element's JSON text, for comparison.
func jsonOf(v event.Value) string {
	var x any
	switch v.Rep() {
	case event.RepInt:
		x = v.Int()
	case event.RepFloat:
		x = v.Float()
	case event.RepBool:
		x = v.Bool()
	case event.RepJSON:
		return v.Str()
	default:
		x = toText(v)
	}
	b, _ := json.Marshal(x)
	return string(b)
}

// fromJSON is an element's JSON text as a value of typ.
func fromJSON(raw json.RawMessage, typ types.Type) event.Value {
	var x any
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if d.Decode(&x) != nil || x == nil {
		return event.Null()
	}
	switch y := x.(type) {
	case string:
		return event.String(y)
	case bool:
		return event.Bool(y)
	case json.Number:
		if n, err := y.Int64(); err == nil && typ.Kind != types.Float64 {
			return event.Int(n)
		}
		f, _ := y.Float64()
		return event.Float(f)
	}
	return event.JSON(string(raw))
}
