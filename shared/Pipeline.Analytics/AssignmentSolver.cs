namespace Pipeline.Analytics;

/// <summary>
/// The Hungarian algorithm: pairs rows with distinct columns at the least total cost. Used to match a new run's
/// centroids to the previous run's, and centroids to segment names.
/// </summary>
public static class AssignmentSolver
{
    /// <summary>For each row, the column it is paired with, or -1 when there are more rows than columns.</summary>
    public static int[] Solve(double[,] cost)
    {
        var rows = cost.GetLength(0);
        var columns = cost.GetLength(1);
        if (rows == 0) return [];
        if (rows > columns)
        {
            var transposed = new double[columns, rows];
            for (var r = 0; r < rows; r++)
                for (var c = 0; c < columns; c++)
                    transposed[c, r] = cost[r, c];
            var byColumn = Solve(transposed);
            var result = Enumerable.Repeat(-1, rows).ToArray();
            for (var c = 0; c < columns; c++) result[byColumn[c]] = c;
            return result;
        }

        // Potentials formulation, 1-based with a sentinel column 0 (O(rows² · columns)).
        var u = new double[rows + 1];
        var v = new double[columns + 1];
        var owner = new int[columns + 1];
        var way = new int[columns + 1];
        for (var i = 1; i <= rows; i++)
        {
            owner[0] = i;
            var j0 = 0;
            var minimum = Enumerable.Repeat(double.PositiveInfinity, columns + 1).ToArray();
            var used = new bool[columns + 1];
            do
            {
                used[j0] = true;
                var i0 = owner[j0];
                var delta = double.PositiveInfinity;
                var j1 = 0;
                for (var j = 1; j <= columns; j++)
                {
                    if (used[j]) continue;
                    var current = cost[i0 - 1, j - 1] - u[i0] - v[j];
                    if (current < minimum[j])
                    {
                        minimum[j] = current;
                        way[j] = j0;
                    }
                    if (minimum[j] < delta)
                    {
                        delta = minimum[j];
                        j1 = j;
                    }
                }
                for (var j = 0; j <= columns; j++)
                {
                    if (used[j])
                    {
                        u[owner[j]] += delta;
                        v[j] -= delta;
                    }
                    else
                    {
                        minimum[j] -= delta;
                    }
                }
                j0 = j1;
            } while (owner[j0] != 0);
            do
            {
                var j1 = way[j0];
                owner[j0] = owner[j1];
                j0 = j1;
            } while (j0 != 0);
        }

        var assignment = Enumerable.Repeat(-1, rows).ToArray();
        for (var j = 1; j <= columns; j++)
            if (owner[j] != 0) assignment[owner[j] - 1] = j - 1;
        return assignment;
    }
}
