using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace StreamAnalyzer.Pipeline.Numpy;

/// <summary>
/// A NumPy <c>.npy</c> array (format versions 1-3, C order) read as float32: the exchange format for model
/// inputs, raw predictions and explanation maps. Float16, float32, float64, int64 and uint8 files are read.
/// </summary>
public sealed partial class NpyArray(float[] data, long[] shape)
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Values in C order.</summary>
    public float[] Data { get; } = data;

    /// <summary>Dimensions.</summary>
    public long[] Shape { get; } = shape;

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex Descr();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranOrder();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeField();

    /// <summary>Reads a file.</summary>
    /// <exception cref="InvalidDataException">Not a .npy file, or a layout this reader does not handle.</exception>
    public static NpyArray Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a NumPy .npy file");
        int major = bytes[6];
        int headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        int headerStart = major == 1 ? 10 : 12;
        if (headerStart + headerLength > bytes.Length) throw new InvalidDataException($"{path}: .npy header is truncated");
        string header = Encoding.Latin1.GetString(bytes, headerStart, headerLength);
        string descr = Descr().Match(header) is { Success: true } d ? d.Groups[1].Value : throw new InvalidDataException($"{path}: .npy header has no descr");
        if (FortranOrder().Match(header) is { Success: true } f && f.Groups[1].Value == "True")
            throw new InvalidDataException($"{path}: Fortran-ordered arrays are not supported");
        var shapeText = ShapeField().Match(header) is { Success: true } s ? s.Groups[1].Value : throw new InvalidDataException($"{path}: .npy header has no shape");
        long[] shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var payload = bytes.AsSpan(headerStart + headerLength);
        float[] data = descr switch
        {
            "<f4" => Take<float>(payload, count, path).ToArray(),
            "<f2" => Take<Half>(payload, count, path).ToArray().Select(h => (float)h).ToArray(),
            "<f8" => Take<double>(payload, count, path).ToArray().Select(v => (float)v).ToArray(),
            "<i8" => Take<long>(payload, count, path).ToArray().Select(v => (float)v).ToArray(),
            "|u1" => Take<byte>(payload, count, path).ToArray().Select(v => (float)v).ToArray(),
            _ => throw new InvalidDataException($"{path}: .npy dtype '{descr}' is not supported"),
        };
        return new NpyArray(data, shape);
    }

    private static ReadOnlySpan<T> Take<T>(ReadOnlySpan<byte> payload, long count, string path) where T : struct
    {
        var values = MemoryMarshal.Cast<byte, T>(payload);
        if (values.Length < count) throw new InvalidDataException($"{path}: .npy data is truncated ({values.Length} of {count} values)");
        return values[..(int)count];
    }

    /// <summary>Writes float32 data in .npy version 1.0 format.</summary>
    public static void Write(string path, ReadOnlySpan<float> data, IReadOnlyList<long> shape)
    {
        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = Magic.Length + 4 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        using var stream = File.Create(path);
        stream.Write(Magic);
        stream.Write([1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.Latin1.GetBytes(header));
        stream.Write(MemoryMarshal.AsBytes(data));
    }
}
