using System.Runtime.Intrinsics;

namespace Pipeline.Analytics;

/// <summary>BigQuery ML's K-means options that the contract fixes, plus how many k-means++ starts to try.</summary>
public sealed record KMeansOptions
{
    /// <summary>BigQuery ML's <c>max_iterations</c> default.</summary>
    public int MaxIterations { get; init; } = 20;

    /// <summary>BigQuery ML's <c>min_rel_progress</c> default: stop when the loss improves by less than 1 %.</summary>
    public double MinRelativeProgress { get; init; } = 0.01;

    /// <summary>
    /// Independent k-means++ starts; the lowest loss wins. One start can settle in a poor local minimum on
    /// well-separated data, and the result should not depend on a lucky seed.
    /// </summary>
    public int Starts { get; init; } = 3;
}

/// <summary>A fitted K-means: centroids (k × d, row-major, in the units it was fitted in) and the loss.</summary>
/// <param name="Loss">Mean squared distance of the fitted rows to their nearest centroid.</param>
public sealed record KMeansResult(double[] Centroids, int K, int Dimensions, int Iterations, double Loss, int Start);

/// <summary>
/// One pass of a K-means start: iteration 0 is the k-means++ initialisation; <paramref name="Loss"/> is the mean
/// squared distance after it. <paramref name="Last"/> is true on the start's last iteration.
/// </summary>
public readonly record struct KMeansIteration(int Start, int Starts, int Iteration, int MaxIterations, double Loss, bool Last);

/// <summary>
/// Lloyd's K-means with k-means++ initialisation and BigQuery ML's stopping rule. Work is split into fixed chunks
/// whose partial sums are combined in chunk order, so results are identical for identical input and seed however
/// many cores run it. Rows are held one feature per array and measured four at a time in vector lanes, each lane
/// computing exactly what one row's loop computes, so the model is the same to the bit.
/// </summary>
public static class KMeans
{
    private const int ChunkSize = 16_384;

    /// <param name="onIteration">Told after each iteration of each start (progress); null costs nothing.</param>
    public static KMeansResult Fit(double[] points, int dimensions, int k, int seed, KMeansOptions? options = null,
        Action<KMeansIteration>? onIteration = null) =>
        Fit(CustomerFeatures.Columns(points, dimensions), k, seed, options, onIteration);

    /// <summary>
    /// <see cref="Fit(double[], int, int, int, KMeansOptions?, Action{KMeansIteration}?)"/> on rows already held one
    /// feature per array (all of the same length), the layout the passes measure in.
    /// </summary>
    public static KMeansResult Fit(double[][] columns, int k, int seed, KMeansOptions? options = null,
        Action<KMeansIteration>? onIteration = null)
    {
        options ??= new KMeansOptions();
        var n = columns[0].Length;
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), "k must be positive");
        if (n < k) throw new ArgumentException($"{n} rows cannot make {k} clusters");

        KMeansResult? best = null;
        var starts = Math.Max(1, options.Starts);
        for (var start = 0; start < starts; start++)
        {
            var random = new Random(unchecked(seed * 7919 + start * 104729 + 17));
            var centroids = PlusPlus(columns, k, random);
            var result = Lloyd(columns, k, centroids, options, start, starts, onIteration);
            if (best is null || result.Loss < best.Loss) best = result;
        }
        return best!;
    }

    /// <summary>The index of the nearest centroid and the squared distance to it.</summary>
    public static (int Index, double Distance2) Nearest(ReadOnlySpan<double> point, ReadOnlySpan<double> centroids, int dimensions)
    {
        if (dimensions == 3) return Nearest3(point[0], point[1], point[2], centroids);
        var bestIndex = 0;
        var bestDistance = double.PositiveInfinity;
        var k = centroids.Length / dimensions;
        for (var c = 0; c < k; c++)
        {
            var distance = Distance2(point, centroids.Slice(c * dimensions, dimensions));
            if (distance < bestDistance)
            {
                bestDistance = distance;
                bestIndex = c;
            }
        }
        return (bestIndex, bestDistance);
    }

    /// <summary>
    /// <see cref="Nearest"/> for the pipeline's three features, unrolled: the inner loop of every K-means pass.
    /// The same additions in the same order as the general loop, so the results are bit for bit the same.
    /// </summary>
    private static (int Index, double Distance2) Nearest3(double x, double y, double z, ReadOnlySpan<double> centroids)
    {
        var bestIndex = 0;
        var bestDistance = double.PositiveInfinity;
        for (int c = 0, offset = 0; offset + 2 < centroids.Length; c++, offset += 3)
        {
            double dx = x - centroids[offset], dy = y - centroids[offset + 1], dz = z - centroids[offset + 2];
            var distance = 0.0 + dx * dx + dy * dy + dz * dz;
            if (distance < bestDistance)
            {
                bestDistance = distance;
                bestIndex = c;
            }
        }
        return (bestIndex, bestDistance);
    }

    public static double Distance2(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var sum = 0.0;
        for (var f = 0; f < a.Length; f++)
        {
            var delta = a[f] - b[f];
            sum += delta * delta;
        }
        return sum;
    }

    private static double[] Row(double[][] columns, int row)
    {
        var point = new double[columns.Length];
        for (var f = 0; f < point.Length; f++) point[f] = columns[f][row];
        return point;
    }

    private static double[] PlusPlus(double[][] columns, int k, Random random)
    {
        var d = columns.Length;
        var n = columns[0].Length;
        var centroids = new double[k * d];
        var first = random.Next(n);
        Row(columns, first).CopyTo(centroids, 0);

        var minDistance = new double[n];
        var chunks = ChunkCount(n);
        var chunkTotals = new double[chunks];
        UpdateMinDistances(columns, centroids.AsMemory(0, d), minDistance, chunkTotals, initialise: true);

        for (var c = 1; c < k; c++)
        {
            var total = 0.0;
            foreach (var t in chunkTotals) total += t;
            int chosen;
            if (total <= 0)
            {
                chosen = random.Next(n); // every row coincides with a centroid already
            }
            else
            {
                var target = random.NextDouble() * total;
                var chunk = 0;
                while (chunk < chunks - 1 && target >= chunkTotals[chunk])
                {
                    target -= chunkTotals[chunk];
                    chunk++;
                }
                var end = Math.Min(n, (chunk + 1) * ChunkSize);
                chosen = end - 1;
                for (var i = chunk * ChunkSize; i < end; i++)
                {
                    target -= minDistance[i];
                    if (target < 0 && minDistance[i] > 0)
                    {
                        chosen = i;
                        break;
                    }
                }
            }
            Row(columns, chosen).CopyTo(centroids, c * d);
            // The distances only choose the next centroid: after the last, nobody reads them (a pass over every row saved).
            if (c < k - 1) UpdateMinDistances(columns, centroids.AsMemory(c * d, d), minDistance, chunkTotals, initialise: false);
        }
        return centroids;
    }

    private static void UpdateMinDistances(double[][] columns, ReadOnlyMemory<double> centroid, double[] minDistance,
        double[] chunkTotals, bool initialise)
    {
        var n = minDistance.Length;
        Parallel.For(0, chunkTotals.Length, chunk =>
        {
            Span<int> nearest = stackalloc int[BlockSize];
            Span<double> distances = stackalloc double[BlockSize];
            var end = Math.Min(n, (chunk + 1) * ChunkSize);
            var total = 0.0;
            for (var from = chunk * ChunkSize; from < end; from += BlockSize)
            {
                var count = Math.Min(BlockSize, end - from);
                NearestOfBlock(columns, from, count, centroid.Span, nearest, distances);
                for (var j = 0; j < count; j++)
                {
                    var i = from + j;
                    if (initialise || distances[j] < minDistance[i]) minDistance[i] = distances[j];
                    total += minDistance[i];
                }
            }
            chunkTotals[chunk] = total;
        });
    }

    private static KMeansResult Lloyd(double[][] columns, int k, double[] centroids, KMeansOptions options, int start, int starts,
        Action<KMeansIteration>? onIteration)
    {
        var d = columns.Length;
        var n = columns[0].Length;
        var pass = Assign(columns, k, centroids);
        var iterations = 0;
        var stopped = !(pass.Loss > 0) || options.MaxIterations < 1;
        onIteration?.Invoke(new KMeansIteration(start, starts, 0, options.MaxIterations, pass.Loss / n, stopped));
        for (var iteration = 1; !stopped; iteration++)
        {
            var updated = Update(columns, k, pass);
            var next = Assign(columns, k, updated);
            var progress = (pass.Loss - next.Loss) / pass.Loss;
            centroids = updated;
            pass = next;
            iterations = iteration;
            stopped = progress < options.MinRelativeProgress || iteration >= options.MaxIterations || !(pass.Loss > 0);
            onIteration?.Invoke(new KMeansIteration(start, starts, iteration, options.MaxIterations, pass.Loss / n, stopped));
        }
        return new KMeansResult(centroids, k, d, iterations, pass.Loss / n, start);
    }

    private static double[] Update(double[][] columns, int k, AssignmentPass pass)
    {
        var d = columns.Length;
        var updated = new double[k * d];
        var taken = new HashSet<int>();
        for (var c = 0; c < k; c++)
        {
            if (pass.Counts[c] > 0)
            {
                for (var f = 0; f < d; f++) updated[c * d + f] = pass.Sums[c * d + f] / pass.Counts[c];
                continue;
            }
            // An empty cluster restarts at the row farthest from its centroid, which lowers the loss the most.
            var row = pass.Farthest.FirstOrDefault(r => !taken.Contains(r), pass.Farthest.Count > 0 ? pass.Farthest[0] : 0);
            taken.Add(row);
            Row(columns, row).CopyTo(updated, c * d);
        }
        return updated;
    }

    private sealed record AssignmentPass(double[] Sums, long[] Counts, double Loss, List<int> Farthest);

    private static AssignmentPass Assign(double[][] columns, int k, double[] centroids)
    {
        var d = columns.Length;
        var n = columns[0].Length;
        var chunks = ChunkCount(n);
        var sums = new double[chunks][];
        var counts = new long[chunks][];
        var losses = new double[chunks];
        var farthest = new (int Row, double Distance)[chunks];
        Parallel.For(0, chunks, chunk =>
        {
            Span<int> nearest = stackalloc int[BlockSize];
            Span<double> distances = stackalloc double[BlockSize];
            var s = new double[k * d];
            var cnt = new long[k];
            var loss = 0.0;
            var far = (Row: -1, Distance: -1.0);
            var end = Math.Min(n, (chunk + 1) * ChunkSize);
            for (var from = chunk * ChunkSize; from < end; from += BlockSize)
            {
                var count = Math.Min(BlockSize, end - from);
                NearestOfBlock(columns, from, count, centroids, nearest, distances);
                // Each sum still adds its rows in row order, so the sums are bit for bit those of one row at a time.
                for (var f = 0; f < d; f++)
                {
                    var column = columns[f].AsSpan(from, count);
                    for (var j = 0; j < column.Length; j++) s[nearest[j] * d + f] += column[j];
                }
                for (var j = 0; j < count; j++)
                {
                    cnt[nearest[j]]++;
                    loss += distances[j];
                    if (distances[j] > far.Distance) far = (from + j, distances[j]);
                }
            }
            sums[chunk] = s;
            counts[chunk] = cnt;
            losses[chunk] = loss;
            farthest[chunk] = far;
        });

        var totalSums = new double[k * d];
        var totalCounts = new long[k];
        var totalLoss = 0.0;
        for (var chunk = 0; chunk < chunks; chunk++)
        {
            for (var j = 0; j < totalSums.Length; j++) totalSums[j] += sums[chunk][j];
            for (var c = 0; c < k; c++) totalCounts[c] += counts[chunk][c];
            totalLoss += losses[chunk];
        }
        var farRows = farthest.Where(f => f.Row >= 0).OrderByDescending(f => f.Distance).ThenBy(f => f.Row)
            .Take(k).Select(f => f.Row).ToList();
        return new AssignmentPass(totalSums, totalCounts, totalLoss, farRows);
    }

    /// <summary>Rows measured together: small enough for the stack, large enough to amortise the call.</summary>
    private const int BlockSize = 256;

    /// <summary>Past this many centroid coordinates (8 KiB of vectors on the stack) rows are measured one at a time.</summary>
    private const int MaxVectorCoordinates = 256;

    /// <summary>
    /// The nearest centroid of rows <paramref name="from"/> to <paramref name="from"/> + <paramref name="count"/>
    /// and the squared distance to it: the pipeline's three features four rows at a time, any others one row at a time.
    /// </summary>
    private static void NearestOfBlock(double[][] columns, int from, int count, ReadOnlySpan<double> centroids,
        Span<int> nearest, Span<double> distances)
    {
        var d = columns.Length;
        var k = centroids.Length / d;
        var j = d == 3 && Vector256.IsHardwareAccelerated && centroids.Length <= MaxVectorCoordinates
            ? NearestOfBlock3(columns, from, count, centroids, nearest, distances)
            : 0;
        for (; j < count; j++)
        {
            var bestDistance = double.PositiveInfinity;
            var bestIndex = 0;
            for (var c = 0; c < k; c++)
            {
                var sum = 0.0;
                for (var f = 0; f < d; f++)
                {
                    var delta = columns[f][from + j] - centroids[c * d + f];
                    sum += delta * delta;
                }
                if (sum < bestDistance)
                {
                    bestDistance = sum;
                    bestIndex = c;
                }
            }
            distances[j] = bestDistance;
            nearest[j] = bestIndex;
        }
    }

    /// <summary>
    /// <see cref="NearestOfBlock"/> for three features, four rows in the lanes of a vector; returns how many rows it
    /// measured (a multiple of four). Each lane makes the same operations in the same order as one row's loop
    /// (0 + dx² + dy² + dz², and 0 + dx² is dx²; the first of equally near centroids), so the results are bit for bit
    /// the same.
    /// </summary>
    private static int NearestOfBlock3(double[][] columns, int from, int count, ReadOnlySpan<double> centroids,
        Span<int> nearest, Span<double> distances)
    {
        var k = centroids.Length / 3;
        Span<Vector256<double>> lanes = stackalloc Vector256<double>[centroids.Length];
        for (var i = 0; i < centroids.Length; i++) lanes[i] = Vector256.Create(centroids[i]);
        var xs = columns[0].AsSpan(from, count);
        var ys = columns[1].AsSpan(from, count);
        var zs = columns[2].AsSpan(from, count);
        var j = 0;
        for (; j + 4 <= count; j += 4)
        {
            var (x, y, z) = (Vector256.Create(xs[j..]), Vector256.Create(ys[j..]), Vector256.Create(zs[j..]));
            var best = Vector256.Create(double.PositiveInfinity);
            var bestIndex = Vector256<double>.Zero;
            for (var c = 0; c < k; c++)
            {
                var (dx, dy, dz) = (x - lanes[3 * c], y - lanes[3 * c + 1], z - lanes[3 * c + 2]);
                var sum = dx * dx + dy * dy + dz * dz;
                var closer = Vector256.LessThan(sum, best);
                best = Vector256.ConditionalSelect(closer, sum, best);
                bestIndex = Vector256.ConditionalSelect(closer, Vector256.Create((double)c), bestIndex);
            }
            best.CopyTo(distances[j..]);
            var indexes = Vector256.ConvertToInt64(bestIndex);
            for (var lane = 0; lane < 4; lane++) nearest[j + lane] = (int)indexes.GetElement(lane);
        }
        return j;
    }

    private static int ChunkCount(int n) => Math.Max(1, (n + ChunkSize - 1) / ChunkSize);
}
