namespace Pipeline.Embedded.SampleData;

/// <summary>
/// How thelook_ecommerce draws its users and its catalogue, for the sample's <c>users</c> and <c>products</c>:
/// gender half and half, ages 12–70 uniformly, countries and traffic sources with thelook's mix; products split
/// evenly between the Women and Men departments (ids 1..half are Women's), each with one of thelook's categories
/// and a brand that sells in it. A user buys in their own gender's department, as in thelook. Every draw comes from
/// a stream keyed by (seed, id), so a user's attributes do not depend on anything else.
/// </summary>
internal static class ThelookPeopleAndCatalogue
{
    public const int MinAge = 12;
    public const int MaxAge = 70;

    /// <summary>Products per department: Women's are 1..this, Men's the rest.</summary>
    public const int ProductsPerDepartment = OrderItemsGenerator.Products / 2;

    private const ulong GenderStream = 0x4745_4E44; // "GEND"
    private const ulong PersonStream = 0x5045_5253; // "PERS"
    private const ulong CatalogueStream = 0x4341_5441; // "CATA"

    /// <summary>thelook's countries, with its shares of users.</summary>
    public static IReadOnlyList<(string Value, double Weight)> Countries { get; } =
    [
        ("China", 0.340), ("United States", 0.226), ("Brasil", 0.145), ("South Korea", 0.054), ("France", 0.047),
        ("United Kingdom", 0.045), ("Germany", 0.043), ("Spain", 0.039), ("Japan", 0.025), ("Australia", 0.022),
        ("Belgium", 0.012), ("Poland", 0.002),
    ];

    /// <summary>thelook's traffic sources, with its shares of users.</summary>
    public static IReadOnlyList<(string Value, double Weight)> TrafficSources { get; } =
        [("Search", 0.70), ("Organic", 0.15), ("Facebook", 0.06), ("Email", 0.05), ("Display", 0.04)];

    /// <summary>thelook's categories per department, each with a few of the brands it sells.</summary>
    public static IReadOnlyList<(string Department, string Category, string[] Brands)> Categories { get; } =
    [
        ("Women", "Intimates", ["Calvin Klein", "Hanes", "Maidenform", "Wacoal", "Jockey"]),
        ("Women", "Jeans", ["Levi's", "Wrangler", "Lucky Brand", "7 For All Mankind", "Joe's Jeans"]),
        ("Women", "Tops & Tees", ["Alternative", "Hurley", "Volcom", "Roxy", "Tommy Hilfiger"]),
        ("Women", "Fashion Hoodies & Sweatshirts", ["Champion", "Roxy", "Columbia", "Hurley"]),
        ("Women", "Sleep & Lounge", ["Hanes", "Carole Hochman", "Jockey", "Lucky Brand"]),
        ("Women", "Swim", ["Speedo", "Roxy", "Billabong", "Seafolly"]),
        ("Women", "Dresses", ["Allegra K", "Calvin Klein", "Tommy Hilfiger", "Anne Klein"]),
        ("Women", "Sweaters", ["Allegra K", "Tommy Hilfiger", "Columbia", "Calvin Klein"]),
        ("Women", "Active", ["Nike", "Under Armour", "Adidas", "Puma"]),
        ("Women", "Outerwear & Coats", ["The North Face", "Columbia", "Patagonia", "Calvin Klein"]),
        ("Women", "Accessories", ["Ray-Ban", "Fossil", "Michael Kors", "Hot Topic"]),
        ("Women", "Shorts", ["Levi's", "Roxy", "Nike", "Billabong"]),
        ("Women", "Pants & Capris", ["Calvin Klein", "Dockers", "Anne Klein", "Columbia"]),
        ("Women", "Socks & Hosiery", ["Hanes", "Hue", "Nike"]),
        ("Women", "Leggings", ["Hue", "Nike", "Under Armour"]),
        ("Women", "Skirts", ["Allegra K", "Roxy", "Tommy Hilfiger"]),
        ("Men", "Underwear", ["Calvin Klein", "Hanes", "Fruit of the Loom", "Jockey", "Tommy Hilfiger"]),
        ("Men", "Jeans", ["Levi's", "Wrangler", "Lucky Brand", "Carhartt", "Diesel"]),
        ("Men", "Tops & Tees", ["Alternative", "Hurley", "Volcom", "Quiksilver", "Carhartt"]),
        ("Men", "Fashion Hoodies & Sweatshirts", ["Champion", "Carhartt", "Quiksilver", "Volcom"]),
        ("Men", "Sleep & Lounge", ["Hanes", "Tommy Hilfiger", "Jockey", "Nautica"]),
        ("Men", "Swim", ["Speedo", "Quiksilver", "Billabong", "Hurley"]),
        ("Men", "Shorts", ["Carhartt", "Quiksilver", "Nike", "Dockers"]),
        ("Men", "Sweaters", ["Tommy Hilfiger", "Nautica", "Columbia", "Calvin Klein"]),
        ("Men", "Active", ["Nike", "Under Armour", "Adidas", "Puma"]),
        ("Men", "Outerwear & Coats", ["The North Face", "Columbia", "Patagonia", "Carhartt"]),
        ("Men", "Accessories", ["Ray-Ban", "Fossil", "Carhartt", "Oakley"]),
        ("Men", "Pants", ["Dockers", "Carhartt", "Levi's", "Columbia"]),
        ("Men", "Socks", ["Hanes", "Gold Toe", "Nike"]),
        ("Men", "Suits & Sport Coats", ["Calvin Klein", "Tommy Hilfiger", "Haggar"]),
    ];

    private static readonly double[] CountryWeights = Cumulative(Countries);
    private static readonly double[] TrafficWeights = Cumulative(TrafficSources);

    /// <summary>Whether a user is a woman: the draw that decides both the users row and the department they buy in.</summary>
    public static bool IsFemale(int seed, long userId) => SplitMix64.For(seed, userId, GenderStream).NextDouble() < 0.5;

    /// <summary>A product id in the user's department, from the order generator's stream (one draw, as before).</summary>
    public static int ProductFor(bool female, ref SplitMix64 rng) =>
        1 + (female ? 0 : ProductsPerDepartment) + rng.NextInt(ProductsPerDepartment);

    /// <summary>A user's profiled attributes: age, country, traffic source, and the day in the window they signed up.</summary>
    public static (int Age, string Country, string TrafficSource, double SignUp) Person(int seed, long userId)
    {
        var rng = SplitMix64.For(seed, userId, PersonStream);
        var age = MinAge + rng.NextInt(MaxAge - MinAge + 1);
        var country = Countries[rng.NextIndex(CountryWeights)].Value;
        var traffic = TrafficSources[rng.NextIndex(TrafficWeights)].Value;
        return (age, country, traffic, rng.NextDouble());
    }

    /// <summary>A product's department, category, brand and cost (30–60 % of its retail price, as thelook's).</summary>
    public static (string Department, string Category, string Brand, double CostShare) Product(int seed, int productId)
    {
        var rng = SplitMix64.For(seed, productId, CatalogueStream);
        var department = productId <= ProductsPerDepartment ? "Women" : "Men";
        var choices = Categories.Where(c => c.Department == department).ToList();
        var (_, category, brands) = choices[rng.NextInt(choices.Count)];
        return (department, category, brands[rng.NextInt(brands.Length)], 0.3 + 0.3 * rng.NextDouble());
    }

    private static double[] Cumulative(IReadOnlyList<(string Value, double Weight)> weights)
    {
        var total = weights.Sum(w => w.Weight);
        var cumulative = new double[weights.Count];
        var sum = 0.0;
        for (var i = 0; i < weights.Count; i++) cumulative[i] = (sum += weights[i].Weight) / total;
        cumulative[^1] = 1.0;
        return cumulative;
    }
}
