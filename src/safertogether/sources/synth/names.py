"""Names as common as they are in England: small frequency tables, nicknames and variant spellings.

No package on PyPI ships UK forename and surname *frequencies* without pulling in a large data set
(``names-dataset`` is hundreds of megabytes and ranks names by country without counts), so the
tables are embedded here. They are approximate, hand-rounded weights, good for their purpose —
common names common, rare names rare — and not statistics to quote:

* surnames: people per surname in England and Wales, in thousands, after the Office for National
  Statistics' list of the most common surnames from the NHS Central Register (2002), with the
  South Asian surnames that are common in Leicester and Leicestershire kept at their list weight;
* forenames: relative weights across the adult and child population, after the ONS "Baby names in
  England and Wales" rankings of 1954-2014, with the names of an era (Margaret, Keith; Olivia, Alfie)
  weighted up among people born then and down among the others (:data:`OLDER`, :data:`MODERN`);
* families with a South Asian surname mostly give forenames of a South Asian table (one table for
  communities whose naming differs — Gujarati Hindu, Sikh, Muslim — a simplification a linker will
  not notice but a demographer would).

A name absent from the tables cannot be generated: a linker cannot learn an exact name list from
this data that would not also hold for real data.
"""

from __future__ import annotations

from typing import Final

import numpy as np

SURNAMES: Final[dict[str, int]] = {
    "Smith": 653, "Jones": 539, "Williams": 380, "Taylor": 306, "Brown": 284, "Davies": 280, "Evans": 222,
    "Wilson": 193, "Thomas": 191, "Johnson": 186, "Roberts": 185, "Robinson": 164, "Thompson": 159,
    "Wright": 158, "Walker": 153, "White": 149, "Edwards": 148, "Hughes": 147, "Green": 146, "Hall": 145,
    "Lewis": 141, "Harris": 140, "Clarke": 137, "Patel": 137, "Jackson": 135, "Wood": 132, "Turner": 127,
    "Martin": 125, "Cooper": 123, "Hill": 122, "Ward": 121, "Morris": 118, "Moore": 117, "Clark": 116,
    "Lee": 115, "King": 114, "Baker": 114, "Harrison": 113, "Morgan": 112, "Allen": 111, "James": 109,
    "Scott": 109, "Phillips": 108, "Watson": 107, "Davis": 105, "Parker": 102, "Price": 100, "Bennett": 99,
    "Young": 99, "Griffiths": 97, "Mitchell": 97, "Kelly": 96, "Cook": 96, "Carter": 95, "Richardson": 94,
    "Bailey": 93, "Collins": 92, "Bell": 92, "Shaw": 91, "Murphy": 91, "Miller": 90, "Cox": 89,
    "Richards": 88, "Khan": 87, "Marshall": 87, "Anderson": 87, "Simpson": 86, "Ellis": 86, "Adams": 86,
    "Singh": 85, "Begum": 84, "Wilkinson": 84, "Foster": 83, "Chapman": 83, "Powell": 83, "Webb": 82,
    "Rogers": 82, "Gray": 82, "Mason": 81, "Ali": 80, "Hunt": 79, "Hussain": 79, "Campbell": 79,
    "Matthews": 78, "Owen": 78, "Palmer": 78, "Holmes": 77, "Mills": 77, "Barnes": 76, "Knight": 76,
    "Lloyd": 76, "Butler": 76, "Russell": 76, "Barker": 75, "Fisher": 75, "Stevens": 75, "Jenkins": 75,
    "Murray": 75, "Dixon": 74, "Harvey": 74, "Graham": 73, "Pearson": 72, "Ahmed": 72, "Fletcher": 71,
    "Walsh": 71, "Kaur": 70, "Gibson": 70, "Howard": 69, "Andrews": 69, "Stewart": 69, "Elliott": 68,
    "Reynolds": 68, "Saunders": 67, "Payne": 67, "Fox": 66, "Ford": 66, "Pearce": 65, "Day": 65,
    "Brooks": 64, "West": 64, "Lawrence": 64, "Cole": 63, "Atkinson": 63, "Bradley": 63, "Spencer": 62,
    "Gill": 62, "Dawson": 61, "Ball": 61, "Burton": 61, "O'Brien": 60, "Watts": 60, "Rose": 60,
    "Booth": 59, "Perry": 59, "Ryan": 59, "Grant": 58, "Wells": 58, "Armstrong": 58, "Francis": 57,
    "Rees": 57, "Hayes": 57, "Hart": 56, "Hudson": 56, "Newman": 56, "Barrett": 55, "Webster": 55,
    "Hunter": 55, "Gregory": 54, "Carr": 54, "Lowe": 54, "Page": 53, "Marsh": 53, "Riley": 53,
    "Dunn": 52, "Woods": 52, "Parsons": 52, "Berry": 51, "Stone": 51, "Reid": 51, "Holland": 50,
    "Hawkins": 50, "Harding": 50, "Porter": 49, "Robertson": 49, "Newton": 49, "Oliver": 48,
    "Reed": 48, "Kennedy": 48, "Williamson": 47, "Bird": 47, "Gardner": 47, "Shah": 46, "Dean": 46,
    "Lane": 46, "Cooke": 45, "Bates": 45, "Henderson": 45, "Parry": 44, "Burgess": 44, "Bishop": 44,
    "Walton": 43, "Burns": 43, "Nicholson": 43, "Shepherd": 42, "Ross": 42, "Cross": 42, "Long": 41,
    "Freeman": 41, "Warren": 41, "Nicholls": 40, "Hamilton": 40, "Byrne": 40, "Sutton": 39,
    "McDonald": 39, "Yates": 39, "Hodgson": 38, "Robson": 38, "Curtis": 38, "Hopkins": 37,
    "O'Connor": 37, "Harper": 37, "Coleman": 36, "Watkins": 36, "Moss": 36, "McCarthy": 35,
    "Chambers": 35, "Hobbs": 34, "Mistry": 25, "Parmar": 22, "Chauhan": 18, "Lad": 12, "Solanki": 12,
    "Mahmood": 20, "Iqbal": 20, "Akhtar": 20, "Rahman": 25, "Chowdhury": 15, "Bhatti": 10,
    "Nowak": 10, "Kowalski": 8, "Wisniewski": 6, "Popescu": 6, "Mensah": 6, "Okafor": 5,
}

FORENAMES_MALE: Final[dict[str, int]] = {
    "David": 100, "John": 95, "Michael": 85, "Paul": 80, "Andrew": 70, "Peter": 60, "James": 80,
    "Robert": 65, "Mark": 60, "Richard": 55, "Stephen": 50, "Christopher": 55, "Daniel": 55,
    "Thomas": 60, "William": 55, "Matthew": 50, "Anthony": 40, "Ian": 35, "Steven": 35, "Simon": 30,
    "Gary": 30, "Kevin": 30, "Jonathan": 28, "George": 40, "Joseph": 40, "Jack": 45, "Oliver": 45,
    "Harry": 45, "Samuel": 35, "Benjamin": 35, "Luke": 30, "Adam": 30, "Ryan": 30, "Jamie": 25,
    "Joshua": 35, "Alexander": 30, "Charlie": 30, "Alan": 30,
    "Brian": 28, "Colin": 22, "Graham": 22, "Keith": 22, "Martin": 30, "Neil": 22, "Philip": 25,
    "Lee": 20, "Craig": 20, "Jason": 20, "Scott": 20, "Nicholas": 25, "Edward": 25, "Kenneth": 18,
    "Raymond": 15, "Ronald": 14, "Dennis": 10, "Terence": 10, "Barry": 14, "Roger": 12, "Stuart": 15,
    "Liam": 20, "Callum": 18, "Connor": 18, "Dylan": 15, "Ethan": 20, "Noah": 18, "Leo": 15, "Oscar": 15,
    "Jacob": 20, "Alfie": 15, "Freddie": 12, "Arthur": 12, "Henry": 15, "Max": 12, "Lewis": 15,
    "Kieran": 12, "Nathan": 15, "Aaron": 12, "Sean": 14, "Carl": 12, "Darren": 14, "Dean": 10,
    "Wayne": 10, "Shaun": 8, "Frederick": 8,
    "Jake": 15, "Tyler": 10, "Reece": 8, "Bradley": 10, "Ashley": 6, "Gordon": 8, "Derek": 10,
    "Malcolm": 10, "Trevor": 10, "Geoffrey": 8, "Victor": 6, "Harvey": 10, "Louis": 10, "Toby": 8,
}

FORENAMES_FEMALE: Final[dict[str, int]] = {
    "Sarah": 70, "Elizabeth": 55, "Margaret": 45, "Susan": 50, "Helen": 40, "Karen": 40, "Julie": 40,
    "Emma": 60, "Claire": 40, "Nicola": 35, "Rebecca": 40, "Laura": 40, "Jennifer": 30, "Patricia": 30,
    "Mary": 40, "Catherine": 30, "Jane": 30, "Lisa": 35, "Amanda": 30, "Michelle": 30, "Joanne": 30,
    "Rachel": 30, "Louise": 28, "Victoria": 30, "Hannah": 40, "Charlotte": 45, "Sophie": 40,
    "Emily": 45, "Jessica": 40, "Amy": 35, "Lucy": 35, "Olivia": 45, "Amelia": 35, "Isla": 20, "Ava": 20,
    "Mia": 20, "Grace": 30, "Chloe": 35, "Lauren": 30, "Katie": 25, "Gemma": 25, "Kelly": 20,
    "Samantha": 25, "Deborah": 22, "Linda": 25, "Barbara": 20, "Joan": 15, "Dorothy": 12,
    "Christine": 22, "Janet": 20, "Carol": 20, "Pauline": 15, "Anne": 22, "Ann": 15, "Angela": 20,
    "Alison": 20, "Jacqueline": 18, "Tracey": 18, "Donna": 14, "Dawn": 14, "Kathleen": 12, "Valerie": 10,
    "Sandra": 20, "Gillian": 15, "Wendy": 12, "Kimberley": 10, "Natalie": 20, "Stephanie": 18, "Zoe": 18,
    "Megan": 20, "Ellie": 20, "Poppy": 15, "Isabella": 18, "Freya": 15, "Lily": 20, "Evie": 15,
    "Sophia": 15, "Jasmine": 12, "Holly": 15, "Abigail": 12,
    "Jade": 12, "Danielle": 12, "Kirsty": 10, "Leanne": 10, "Sharon": 18, "Diane": 15, "Shirley": 10,
    "Sheila": 10, "Maureen": 10, "Brenda": 8, "Hazel": 8, "Joyce": 8, "Frances": 10, "Alice": 20,
    "Ruby": 15, "Daisy": 12, "Phoebe": 10, "Anita": 8, 
}

#: Forenames of families with a South Asian surname (most of them: Leicester's largest communities are of Indian,
#: Pakistani and Bangladeshi heritage), after the same ONS rankings and Leicester's most given names.
SOUTH_ASIAN_MALE: Final[dict[str, int]] = {
    "Mohammed": 30, "Muhammad": 25, "Mohammad": 10, "Imran": 10, "Ravi": 10, "Amit": 10, "Sanjay": 10, "Rajesh": 10,
    "Arjun": 8, "Vijay": 8, "Hassan": 8, "Yusuf": 8, "Omar": 8, "Ibrahim": 8, "Rohan": 8, "Kiran": 6, "Nikhil": 6,
    "Harjit": 6, "Gurpreet": 6, "Manoj": 6, "Dilip": 6, "Ashok": 6, "Suresh": 6, "Deepak": 6, "Ali": 6,
}
SOUTH_ASIAN_FEMALE: Final[dict[str, int]] = {
    "Fatima": 12, "Priya": 10, "Ayesha": 10, "Aisha": 10, "Sunita": 8, "Harpreet": 8, "Zara": 8, "Nisha": 8,
    "Pooja": 8, "Anjali": 8, "Sana": 8, "Amira": 6, "Meera": 6, "Hina": 6, "Rekha": 6, "Kavita": 6, "Bhavna": 6,
    "Jaspreet": 6, "Shabana": 6, "Nazia": 6, "Anita": 6,
}
SOUTH_ASIAN_SURNAMES: Final = frozenset({
    "Patel", "Khan", "Singh", "Begum", "Ali", "Hussain", "Ahmed", "Kaur", "Shah", "Mistry", "Parmar", "Chauhan",
    "Lad", "Solanki", "Mahmood", "Iqbal", "Akhtar", "Rahman", "Chowdhury", "Bhatti"})
#: Of people in families with a South Asian surname, the share given a name of that table; of the others.
SOUTH_ASIAN_FORENAME_SHARE: Final = (0.85, 0.01)

#: Formal forename -> the short forms people give or are recorded under.
NICKNAMES: Final[dict[str, tuple[str, ...]]] = {
    "William": ("Bill", "Will", "Billy"), "Elizabeth": ("Liz", "Beth", "Lizzie"), "Robert": ("Bob", "Rob"),
    "Richard": ("Rich", "Dick", "Ricky"), "James": ("Jim", "Jimmy", "Jamie"), "Margaret": ("Maggie", "Peggy"),
    "Michael": ("Mike", "Mick"), "Christopher": ("Chris",), "Anthony": ("Tony",), "Thomas": ("Tom", "Tommy"),
    "Joseph": ("Joe",), "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",), "Andrew": ("Andy", "Drew"),
    "Stephen": ("Steve",), "Steven": ("Steve",), "Jonathan": ("Jon",), "Nicholas": ("Nick",),
    "Edward": ("Ed", "Ted", "Eddie"), "Alexander": ("Alex",), "Benjamin": ("Ben",), "Samuel": ("Sam",),
    "Jennifer": ("Jen", "Jenny"), "Rebecca": ("Becky", "Becca"), "Catherine": ("Kate", "Cathy"),
    "Victoria": ("Vicky", "Tori"), "Samantha": ("Sam", "Sammy"), "Patricia": ("Pat", "Trish"),
    "Susan": ("Sue",), "Deborah": ("Debbie", "Deb"), "Kimberley": ("Kim",), "Jacqueline": ("Jackie",),
    "Christine": ("Chris",), "Nicola": ("Nicky",), "Charlotte": ("Charlie", "Lottie"), "Joshua": ("Josh",),
    "Kenneth": ("Ken",), "Raymond": ("Ray",), "Ronald": ("Ron", "Ronnie"), "Terence": ("Terry",),
    "Philip": ("Phil",), "Frederick": ("Fred", "Freddie"), "Henry": ("Harry", "Hal"), "David": ("Dave",),
    "Peter": ("Pete",), "Gillian": ("Jill",), "Joanne": ("Jo",), "Stephanie": ("Steph",),
    "Abigail": ("Abby",), "Isabella": ("Bella", "Izzy"), "Gordon": ("Gordy",), "Geoffrey": ("Geoff",),
    "Jessica": ("Jess",), "Natalie": ("Nat",), "Alison": ("Ali",), "Amanda": ("Mandy",),
    "Pauline": ("Paula",), "Kathleen": ("Kath",), "Valerie": ("Val",), "Sandra": ("Sandy",),
}


#: Forenames given mostly before 1975, and mostly since 1985 (after the ONS rankings by decade).
OLDER: Final = frozenset({
    "Margaret", "Susan", "Karen", "Julie", "Patricia", "Mary", "Linda", "Barbara", "Joan", "Dorothy",
    "Christine", "Janet", "Carol", "Pauline", "Ann", "Anne", "Angela", "Alison", "Jacqueline", "Tracey", "Donna",
    "Dawn", "Kathleen", "Valerie", "Sandra", "Gillian", "Wendy", "Sharon", "Diane", "Shirley", "Sheila",
    "Maureen", "Brenda", "Hazel", "Joyce", "Deborah", "David", "John", "Michael", "Paul", "Peter", "Ian", "Gary",
    "Kevin", "Alan", "Brian", "Colin", "Graham", "Keith", "Neil", "Kenneth", "Raymond", "Ronald", "Dennis",
    "Terence", "Barry", "Roger", "Stuart", "Derek", "Malcolm", "Trevor", "Geoffrey", "Victor", "Gordon", "Philip",
    "Stephen", "Steven", "Mark", "Anthony", "Carl", "Darren", "Dean", "Wayne", "Shaun"})
MODERN: Final = frozenset({
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Chloe", "Sophie", "Emily", "Jessica", "Lily",
    "Evie", "Poppy", "Isabella", "Freya", "Ellie", "Megan", "Sophia", "Ruby", "Daisy", "Phoebe", "Jasmine",
    "Holly", "Abigail", "Alice", "Oliver", "Harry", "Jack", "Charlie", "Jacob", "Alfie", "Freddie", "Arthur",
    "Noah", "Leo", "Oscar", "Ethan", "Dylan", "Callum", "Connor", "Liam", "Joshua", "Tyler", "Reece", "Jake",
    "Max", "Harvey", "Louis", "Toby", "Kieran", "Lewis", "Henry"})
#: Birth years 1975 and 1985 split people into three eras; an era's names are weighted by these factors.
_ERA_YEARS: Final = np.array([1975, 1985])
_OLDER_FACTORS: Final = (3.0, 1.0, 0.25)
_MODERN_FACTORS: Final = (0.15, 0.5, 3.0)


class NameTable:
    """A frequency table: the names and their probabilities, to sample indices from (vectorised)."""

    def __init__(self, weights: dict[str, int]) -> None:
        self.names = np.array(list(weights), dtype=object)
        self.counts = np.array(list(weights.values()), dtype=np.float64)
        self.p = self.counts / self.counts.sum()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` indices into ``names``, each drawn with the name's frequency."""
        return rng.choice(len(self.names), size=n, p=self.p).astype(np.int32)

    def sample_born(self, rng: np.random.Generator, born: np.ndarray) -> np.ndarray:
        """An index per person born in the years ``born``, drawn with the frequency of the name in that era."""
        era = np.searchsorted(_ERA_YEARS, born, side="right")
        out = np.empty(len(born), dtype=np.int32)
        older = np.isin(self.names, list(OLDER))
        modern = np.isin(self.names, list(MODERN))
        for e in range(len(_ERA_YEARS) + 1):
            weight = self.counts * np.where(older, _OLDER_FACTORS[e], 1.0) * np.where(modern, _MODERN_FACTORS[e], 1.0)
            rows = np.flatnonzero(era == e)
            out[rows] = rng.choice(len(self.names), size=len(rows), p=weight / weight.sum())
        return out


class Forenames:
    """Every forename table (female, male; general and South Asian) in one index space."""

    def __init__(self) -> None:
        self.tables = tuple(NameTable(t) for t in (FORENAMES_FEMALE, FORENAMES_MALE, SOUTH_ASIAN_FEMALE,
                                                   SOUTH_ASIAN_MALE))
        self.offsets = np.cumsum([0] + [len(t.names) for t in self.tables])
        self.names = np.concatenate([t.names for t in self.tables])

    def sample(self, rng: np.random.Generator, sex: np.ndarray, born: np.ndarray, south_asian: np.ndarray
               ) -> np.ndarray:
        """A forename index per person (sex 0 female, 1 male), of their era and their family's table."""
        out = np.empty(len(sex), dtype=np.int32)
        for k, table in enumerate(self.tables):
            rows = np.flatnonzero((sex == k % 2) & (south_asian == (k >= 2)))
            out[rows] = table.sample_born(rng, born[rows]) + self.offsets[k]
        return out
