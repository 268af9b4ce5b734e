using System.Text.Json;

namespace StreamAnalyzer.Cluster;

/// <summary>How the cluster's records are written into NATS: compact UTF-8 JSON (readable with the <c>nats</c> CLI too).</summary>
public static class ClusterJson
{
    /// <summary>The serializer settings.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { WriteIndented = false };

    /// <summary>Serialises a value.</summary>
    public static byte[] Bytes<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    /// <summary>Reads a value, or null where the bytes are not one.</summary>
    public static T? Read<T>(byte[]? bytes) where T : class
    {
        if (bytes is null || bytes.Length == 0) return null;
        try
        {
            return JsonSerializer.Deserialize<T>(bytes, Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
