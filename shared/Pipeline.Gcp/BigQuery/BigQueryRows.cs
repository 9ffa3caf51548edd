using System.Globalization;
using System.Text.Json.Nodes;

namespace Pipeline.Gcp;

/// <summary>A column of a result's schema (<c>TableFieldSchema</c>): name, legacy or GoogleSQL type, mode, sub-fields.</summary>
public sealed record BigQueryField(string Name, string Type, string Mode, IReadOnlyList<BigQueryField> Fields)
{
    public bool IsRepeated => Mode == "REPEATED";

    public static IReadOnlyList<BigQueryField> ListFrom(JsonNode? schema) =>
        (schema?["fields"] as JsonArray ?? []).Select(f => new BigQueryField(
            (string)f!["name"]!,
            ((string?)f["type"] ?? "STRING").ToUpperInvariant(),
            ((string?)f["mode"] ?? "NULLABLE").ToUpperInvariant(),
            ListFrom(f))).ToList();
}

/// <summary>
/// One result row decoded from BigQuery's <c>f</c>/<c>v</c> encoding by the schema's types: INT64 as
/// <see cref="long"/> (it arrives as a string), FLOAT64 as <see cref="double"/>, NUMERIC as <see cref="decimal"/>,
/// BOOL, STRING, BYTES as <c>byte[]</c>, DATE as <see cref="DateOnly"/>, DATETIME as <see cref="DateTime"/>, TIME as
/// <see cref="TimeOnly"/>, TIMESTAMP as <see cref="DateTimeOffset"/> (UTC), a REPEATED column as a list, a STRUCT as
/// a nested row, NULL as null. Columns are found by name, ignoring case.
/// </summary>
public sealed class BigQueryRow
{
    private readonly Dictionary<string, object?> _values;

    private BigQueryRow(Dictionary<string, object?> values) => _values = values;

    public object? this[string column] =>
        _values.TryGetValue(column, out var value) ? value : throw new KeyNotFoundException($"the result has no column '{column}'");

    public IReadOnlyCollection<string> Columns => _values.Keys;

    public bool IsNull(string column) => this[column] is null;

    public long GetInt64(string column) => this[column] switch
    {
        long v => v,
        null => throw new InvalidCastException($"'{column}' is NULL"),
        var v => throw new InvalidCastException($"'{column}' is {v.GetType().Name}, not INT64"),
    };

    /// <summary>A FLOAT64, NUMERIC or INT64 column as a double.</summary>
    public double GetDouble(string column) => GetNullableDouble(column) ?? throw new InvalidCastException($"'{column}' is NULL");

    public double? GetNullableDouble(string column) => this[column] switch
    {
        null => null,
        double v => v,
        long v => v,
        decimal v => (double)v,
        var v => throw new InvalidCastException($"'{column}' is {v.GetType().Name}, not a number"),
    };

    public string? GetString(string column) => this[column] switch
    {
        null => null,
        string v => v,
        var v => throw new InvalidCastException($"'{column}' is {v.GetType().Name}, not STRING"),
    };

    public bool GetBoolean(string column) => this[column] is bool v ? v : throw new InvalidCastException($"'{column}' is not BOOL");

    /// <summary>A REPEATED numeric column (e.g. APPROX_QUANTILES) as doubles.</summary>
    public IReadOnlyList<double> GetDoubleList(string column) => this[column] switch
    {
        IReadOnlyList<object?> list => list.Select(v => v switch
        {
            double d => d,
            long l => l,
            decimal m => (double)m,
            _ => throw new InvalidCastException($"'{column}' holds a NULL or non-numeric element"),
        }).ToList(),
        _ => throw new InvalidCastException($"'{column}' is not a REPEATED column"),
    };

    /// <summary>Decodes a row (<c>{"f": [{"v": ...}, ...]}</c>) by the schema.</summary>
    public static BigQueryRow Decode(JsonNode row, IReadOnlyList<BigQueryField> schema)
    {
        var cells = row["f"] as JsonArray ?? throw new FormatException("a row has no 'f' array");
        if (cells.Count != schema.Count) throw new FormatException($"a row has {cells.Count} cells for {schema.Count} columns");
        var values = new Dictionary<string, object?>(schema.Count, StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < schema.Count; i++)
            values[schema[i].Name] = DecodeField(cells[i]?["v"], schema[i]);
        return new BigQueryRow(values);
    }

    private static object? DecodeField(JsonNode? value, BigQueryField field)
    {
        if (value is null) return null;
        if (field.IsRepeated)
        {
            var element = field with { Mode = "NULLABLE" };
            return (value as JsonArray ?? throw new FormatException($"'{field.Name}' is REPEATED but not an array"))
                .Select(item => DecodeField(item?["v"], element)).ToList();
        }
        return field.Type switch
        {
            "RECORD" or "STRUCT" => Decode(value, field.Fields),
            _ => DecodeScalar((string?)value ?? throw new FormatException($"'{field.Name}' is not a string value"), field),
        };
    }

    private static object DecodeScalar(string text, BigQueryField field)
    {
        var c = CultureInfo.InvariantCulture;
        return field.Type switch
        {
            "INTEGER" or "INT64" => long.Parse(text, NumberStyles.AllowLeadingSign, c),
            "FLOAT" or "FLOAT64" => text switch
            {
                "NaN" => double.NaN,
                "Infinity" => double.PositiveInfinity,
                "-Infinity" => double.NegativeInfinity,
                _ => double.Parse(text, NumberStyles.Float, c),
            },
            "NUMERIC" or "BIGNUMERIC" or "BIGDECIMAL" or "DECIMAL" => decimal.Parse(text, NumberStyles.Float, c),
            "BOOLEAN" or "BOOL" => text.Equals("true", StringComparison.OrdinalIgnoreCase),
            "BYTES" => Convert.FromBase64String(text),
            "DATE" => DateOnly.ParseExact(text, "yyyy-MM-dd", c),
            "DATETIME" => DateTime.Parse(text, c, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal),
            "TIME" => TimeOnly.Parse(text, c),
            "TIMESTAMP" => DecodeTimestamp(text),
            _ => text, // STRING, JSON, GEOGRAPHY, INTERVAL: as the text BigQuery sends
        };
    }

    /// <summary>
    /// With <c>formatOptions.useInt64Timestamp</c> a TIMESTAMP is microseconds since the epoch; without it, seconds as
    /// a floating-point string (e.g. "1.6725312E9").
    /// </summary>
    private static DateTimeOffset DecodeTimestamp(string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var micros))
            return DateTimeOffset.UnixEpoch.AddTicks(micros * 10);
        var seconds = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return DateTimeOffset.UnixEpoch.AddTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
    }
}
